"""The analysis lesson, beyond the textbook (page 5, pages/5_analysis.py): the science.

lesion (delete a block at test time, Veit et al. 2016) and ensemble (reading the lesion as paths),
landscape (the loss along random directions, Li et al. 2018), construction (how near the identity
a block stays), and saved (each computed once per run and kept in its folder). Sentences:
resnet_viz.text.lesion, .landscape, .construction; charts: resnet_viz.figures.analysis; widgets:
resnet_viz.ui.analysis; exercises: resnet_viz.teaching.analysis.

May import: resnet_viz.i18n, the engine, other lessons. Never text, figures, teaching, ui or cli.
"""
