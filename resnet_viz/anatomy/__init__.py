"""The anatomy lesson (page 2, pages/2_anatomy.py): the science.

nets: stage tables, block sketches, parameter counts and the shortcut options, measured on the
models; mistakes: three common tutorial mistakes demonstrated on real models. Sentences:
resnet_viz.text.anatomy; charts: resnet_viz.figures.anatomy; widgets: resnet_viz.ui.anatomy;
exercises: resnet_viz.teaching.anatomy.

May import: resnet_viz.i18n, the engine, other lessons. Never text, figures, teaching, ui or cli.
"""
