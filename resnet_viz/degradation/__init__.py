"""The degradation lesson (page 4, pages/4_degradation.py): the science.

sweep: depth sweeps of plain and residual twins trained with the engine, scored by training error
(degradation: a deeper plain net reaching a higher training error than a shallower one, He et al.
2016); pool: a class's runs from a run store, pooled by recipe into the same depth points.
Sentences: resnet_viz.text.sweep; charts: resnet_viz.figures.sweep; widgets:
resnet_viz.ui.degradation; exercises: resnet_viz.teaching.lessons.

May import: resnet_viz.i18n, the engine, other lessons. Never text, figures, teaching, ui or cli.
"""
