"""The gradient-flow lesson (page 1, pages/1_theory.py): the science.

flow: a toy chain of scalar layers, the real nets at initialisation, and shattered gradients,
each measured, never drawn from a formula. Sentences: resnet_viz.text.theory; charts:
resnet_viz.figures.theory; widgets: resnet_viz.ui.theory; exercises: resnet_viz.teaching.lessons.

May import: resnet_viz.i18n, the engine, other lessons. Never text, figures, teaching, ui or cli.
"""
