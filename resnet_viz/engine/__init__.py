"""The engine every lesson runs on, and nothing of any lesson.

config (frozen dataclasses for a model, its data and its training), models (plain and residual
differ in one line), probes (hooks as context managers), train, history (what a run measured),
checks and numbers (validating values and judging them: finite, ratio, regime), checkpoints,
devices and limits (where and how much a server runs), classroom (teacher mode's key and the
class record beside the run store), experiment (a plain/residual pair trained
alike), and the packages data/ (datasets, offline and downloaded), runs/ (the run store on disk)
and runner/ (the job queue, local or on Ray).

The Train & compare page (pages/3_live.py) is the engine at work, with no science of its own:
its sentences are resnet_viz.text.live, its charts resnet_viz.figures.live_curves and
.live_gradients, its widgets resnet_viz.ui.live, its exercises resnet_viz.teaching.lessons.

May import: resnet_viz.i18n and the engine itself. Never a lesson, text, figures, teaching, ui or cli.
"""
