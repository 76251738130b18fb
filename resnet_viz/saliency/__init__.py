"""The saliency lesson (page 6, pages/6_saliency.py): the science.

maps (Grad-CAM and friends, through captum), computed on layers (the layer a map reads, the frozen
copy it runs on); localisation (how much of a map falls inside a known shape); pretrained
(torchvision's ImageNet ResNets, fetched once). Sentences: resnet_viz.text.saliency; charts:
resnet_viz.figures.saliency; widgets: resnet_viz.ui.saliency.

May import: resnet_viz.i18n, the engine, other lessons. Never text, figures, teaching, ui or cli.
"""
