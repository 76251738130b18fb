"""The app's jargon in words a first-year student understands: term -> one or two sentences.

Pages use :func:`help` as the ``help=`` tooltip of their widgets, and the anatomy page renders the
whole :data:`GLOSSARY`. Pure data: no torch, no streamlit, so any page or test can import it.
Definitions are shown in the learner's language; the English terms stay the keys.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from ..i18n import N_, _

# Read-only, so no page can change a definition that every other page shows. Terms and definitions
# are English templates marked with N_(): the terms stay the lookup keys in every language, and a
# definition is translated where it is shown (`help`; the anatomy page's glossary translates
# `entries()` itself, term and definition).
GLOSSARY: Mapping[str, str] = MappingProxyType(
    {
        N_("residual block"): N_(
            "A small group of layers whose output is its input plus what the layers compute: y = x + F(x). "
            "The layers only have to learn the change F(x), not the whole mapping from scratch."
        ),
        N_("identity shortcut"): N_(
            "The path inside a residual block that carries the input x around the layers unchanged and adds "
            "it to their output. The app's sentences call it the shortcut."
        ),
        N_("skip connection"): N_(
            "Another name for the identity shortcut: the input jumps over the block's layers and is added "
            "to their output, y = x + F(x)."
        ),
        N_("plain net"): N_(
            "A network with the same layers as a residual net but no shortcuts, so every signal has to pass "
            "through every layer: each block computes y = F(x)."
        ),
        N_("twins"): N_(
            "A plain net and a residual net built from the same random seed and trained on exactly the same "
            "batches in the same order, so any difference between them comes from the shortcuts alone."
        ),
        N_("6n+2"): N_(
            "The depth rule of the CIFAR-10 ResNets (He et al. 2016, §4.2): one stem conv, three stages of "
            "n blocks with two conv layers each (6n layers), and one linear head. n = 3 gives ResNet-20."
        ),
        N_("stem"): N_(
            "The first layers of the network, which turn the raw image into feature maps before the first "
            "stage. CIFAR nets use a single 3×3 conv; ImageNet nets use a 7×7 conv with stride 2 and a max pool."
        ),
        N_("head"): N_(
            "The end of the network that turns the last feature maps into one score per class: a global "
            "average pool followed by a single linear layer."
        ),
        N_("stage"): N_(
            "A run of blocks that work at the same resolution and number of channels. The first block of each "
            "later stage halves the height and width and doubles the channels."
        ),
        N_("option A shortcut"): N_(
            "Where a block changes shape, option A keeps the shortcut free of weights: it keeps every second "
            "pixel and fills the extra channels with zeros. Plain and residual twins then have the same weights."
        ),
        N_("option B shortcut"): N_(
            "Where a block changes shape, option B puts a learned 1×1 convolution (with BatchNorm) on the "
            "shortcut to match it; everywhere else the shortcut stays the identity. It adds a few weights."
        ),
        N_("pre-activation"): N_(
            "A block ordering where BatchNorm and ReLU come before each convolution and nothing follows the "
            "addition, so the shortcut is a clean identity from block to block (He et al. 2016b)."
        ),
        N_("post-activation"): N_(
            "The original block ordering (He et al. 2016): conv, BatchNorm, ReLU, conv, BatchNorm, add the "
            "input, then a ReLU. That last ReLU sits on the shortcut path: y = ReLU(x + F(x))."
        ),
        N_("bottleneck"): N_(
            "The block of ResNet-50 and deeper: a 1×1 conv narrows the channels, a 3×3 conv works on the thin "
            "version, and a 1×1 conv widens them again. It is much cheaper than two 3×3 convs at full width."
        ),
        N_("expansion"): N_(
            "How many times more channels a block outputs than its inner layers use: 4 for a bottleneck, 1 for "
            "a basic block. The network code reads it to size the next stage and the head."
        ),
        N_("BatchNorm"): N_(
            "Batch normalisation: rescales each channel to zero mean and unit variance over the batch, then "
            "applies a learned scale and shift. It keeps signals in a healthy range, which helps deep nets train."
        ),
        N_("global average pooling"): N_(
            "Averages each channel of the last feature map over all its positions, giving one number per "
            "channel whatever the image size (nn.AdaptiveAvgPool2d(1) in PyTorch)."
        ),
        N_("RMS per weight"): N_(
            "The size of a layer's weight gradient shared out over its weights: ||dL/dW|| / sqrt(number of "
            "weights). It lets layers of very different sizes be compared on one chart."
        ),
        N_("dL/dx"): N_(
            "The gradient of the loss with respect to a block's output activations: how much the loss would "
            "change if that output changed. It is the signal that travels backwards from block to block."
        ),
        N_("vanishing gradient"): N_(
            "The gradient shrinks a little at every layer on its way back, so after many layers the first "
            "layers receive almost nothing and barely learn."
        ),
        N_("exploding gradient"): N_(
            "The gradient grows at every layer on its way back, so the first layers receive huge updates and "
            "training becomes unstable or breaks down."
        ),
        N_("degradation"): N_(
            "Adding layers to a plain net makes its training error higher, not lower, although the deeper net "
            "could copy the shallower one. It is an optimisation difficulty, not overfitting; residual nets avoid it."
        ),
        N_("skip strength alpha"): N_(
            "A knob on the shortcut in this app: y = F(x) + alpha·x. alpha = 0 turns a block into a plain one, "
            "alpha = 1 is the standard residual block."
        ),
        N_("Grad-CAM"): N_(
            "A way to see where a network looks: it weights the last convolutional feature maps by how much the "
            "class score depends on each and shows the result as a heat map over the image."
        ),
        N_("lesion"): N_(
            "Deleting one block of a trained network, so its input passes on through the shortcut alone, and "
            "measuring how much the accuracy drops: a test of how much the network relies on that block."
        ),
        N_("sweep"): N_(
            "Training plain and residual twins at several depths with the same settings and seeds, one run per "
            "depth, kind and seed, to see how the final training error changes with depth (He et al. 2016, Fig. 1 "
            "and 6)."
        ),
        N_("shattered gradients"): N_(
            "Balduzzi et al. (2017): in a plain net the correlation between the input gradients of nearby inputs "
            "decays exponentially with depth, until the gradient looks like white noise. With shortcuts it decays "
            "far more slowly (sublinearly)."
        ),
        N_("probe"): N_(
            "A measurement taken during training, at step 1 and then every few steps: each layer's weight gradient, "
            "each block's dL/dx and the size of its output, read from that step's own backward pass."
        ),
        N_("loss landscape"): N_(
            "The loss drawn over a slice through the space of weights around a trained network, to see "
            "whether it sits in a smooth, wide valley or a rough, narrow one."
        ),
    }
)


# Named for its use, st.slider(..., help=glossary.help("stem")), though it shadows the builtin here.
def help(term: str) -> str:
    """The definition of `term` (an English key, exact or ignoring case) in the learner's language;
    KeyError naming close matches otherwise."""
    if term in GLOSSARY:
        return _(GLOSSARY[term])
    folded = {k.casefold(): k for k in GLOSSARY}
    if term.casefold() in folded:
        return _(GLOSSARY[folded[term.casefold()]])
    close = difflib.get_close_matches(term, list(GLOSSARY), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"{term!r} is not in the glossary{hint}")


def entries() -> list[tuple[str, str]]:
    """(term, definition) sorted alphabetically, ignoring case, for the rendered glossary: the
    English templates, to be shown through `_()`."""
    return sorted(GLOSSARY.items(), key=lambda kv: kv[0].casefold())


__all__ = ["GLOSSARY", "entries", "help"]
