"""What the learner's own training run shows (the live page), every number taken from its histories.

A sentence whose numbers are missing (a run stopped before the first probe, say) is left out, not
guessed. The measurements these sentences read (final loss and accuracy, the identity share, the
gradient row that flows) are methods of :class:`resnet_viz.engine.history.History`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import N_, _
from .numbers import SAME_BAND, first_last, is_number, listing, num, pct, regime, regime_factor, times
from .theory import skip_strength_sentence

if TYPE_CHECKING:
    from ..engine.config import ModelConfig
    from ..engine.history import History

CANDIDATE = N_(
    "Explosion at initialisation is one of the candidate explanations of degradation, not evidence "
    "that the gradient is healthy."
)

# The gradient at the first probe, one template per regime, for dL/dx per block and for the
# per-weight gradient RMS of older runs (which has no dL/dx).
_FLOW = {
    ("dL/dx", "vanishing"): N_(
        "In {name} at step {step}, dL/dx at the first block was {factor} smaller than at the last block: "
        "it vanished toward the input."
    ),
    ("dL/dx", "shrinking"): N_(
        "In {name} at step {step}, dL/dx at the first block was {factor} smaller than at the last block: "
        "it shrank toward the input."
    ),
    ("dL/dx", "flat"): N_(
        "In {name} at step {step}, dL/dx at the first block was {factor} that at the last block: "
        "it kept about the same size from output to input (within a factor of {band})."
    ),
    ("dL/dx", "growing"): N_(
        "In {name} at step {step}, dL/dx at the first block was {factor} larger than at the last block: "
        "it grew toward the input."
    ),
    ("dL/dx", "exploding"): N_(
        "In {name} at step {step}, dL/dx at the first block was {factor} larger than at the last block: "
        "it exploded toward the input."
    ),
    ("rms", "vanishing"): N_(
        "In {name} at step {step}, the gradient per weight at the first layer was {factor} smaller than at the "
        "last conv layer: it vanished toward the input."
    ),
    ("rms", "shrinking"): N_(
        "In {name} at step {step}, the gradient per weight at the first layer was {factor} smaller than at the "
        "last conv layer: it shrank toward the input."
    ),
    ("rms", "flat"): N_(
        "In {name} at step {step}, the gradient per weight at the first layer was {factor} that at the last "
        "conv layer: it kept about the same size from output to input (within a factor of {band})."
    ),
    ("rms", "growing"): N_(
        "In {name} at step {step}, the gradient per weight at the first layer was {factor} larger than at the "
        "last conv layer: it grew toward the input."
    ),
    ("rms", "exploding"): N_(
        "In {name} at step {step}, the gradient per weight at the first layer was {factor} larger than at the "
        "last conv layer: it exploded toward the input."
    ),
}
# The same ratio at the last probe; after an explosion, whether it calmed down (fell by half or more).
_LATER = {
    "any": N_("At step {step} the first/last ratio was {ratio}."),
    "calmed": N_("At step {step} the first/last ratio was {ratio}: it calmed down."),
    "not calmed": N_("At step {step} the first/last ratio was {ratio}: it had not calmed down."),
}
# Lowest and highest final training loss; measured on the whole set, or the mean over the last 10
# training batches (History.final_train_loss), and with the factor between them once it is 1.1 or more.
_LOSSES = {
    ("whole", False): N_(
        "{best} reached the lowest training loss ({best_loss} on the whole training set); {worst} the highest "
        "({worst_loss})."
    ),
    ("whole", True): N_(
        "{best} reached the lowest training loss ({best_loss} on the whole training set); {worst} the highest "
        "({worst_loss}), {factor} higher."
    ),
    ("steps", False): N_(
        "{best} reached the lowest training loss ({best_loss}, mean over the last 10 batches); {worst} the highest "
        "({worst_loss})."
    ),
    ("steps", True): N_(
        "{best} reached the lowest training loss ({best_loss}, mean over the last 10 batches); {worst} the highest "
        "({worst_loss}), {factor} higher."
    ),
}


def _ratio(row: Sequence[float], kind: str) -> float | None:
    """First over last of a flow row; a per-weight row ends with the head, which is left out."""
    return first_last(row, skip_head=kind == "rms")


def flow_sentence(h: History) -> str | None:
    """The regime of the gradient at the first probe (vanishing, flat, exploding...), and what
    became of it by the last probe; dL/dx at the blocks' outputs when measured (He et al. 2016b,
    eq. 5), else the per-weight gradient RMS, named as such."""
    if not h.probe_step:
        return None
    row0, kind = h.flow_row(0)
    r0 = _ratio(row0, kind)
    step0 = h.probe_step[0]
    reg = regime(r0, first=row0[0] if row0 else None)
    if reg == "undefined":
        return _(
            "In {name} at step {step}, the gradient was not finite or not measured at both ends, "
            "so no ratio can be given."
        ).format(name=h.name, step=step0)
    if reg == "zero":
        return _(
            "In {name} at step {step}, the first block received no gradient at all (exactly 0): it vanished completely."
        ).format(name=h.name, step=step0)
    out = [_(_FLOW[(kind, reg)]).format(name=h.name, step=step0, factor=regime_factor(reg, r0), band=f"{SAME_BAND:g}")]  # type: ignore[arg-type]
    if len(h.probe_step) > 1:
        row1, kind1 = h.flow_row(-1)
        r1 = _ratio(row1, kind1) if kind1 == kind else None
        if r1 is not None:
            later = "any" if reg != "exploding" else "calmed" if r1 < r0 / 2 else "not calmed"  # type: ignore[operator]
            out.append(_(_LATER[later]).format(step=h.probe_step[-1], ratio=num(r1)))
    if reg == "exploding" and "plain" in h.name:
        out.append(_(CANDIDATE))
    return join_sentences(out)


def join_sentences(sentences: Sequence[str]) -> str:
    """Sentences one after another in one paragraph (English: a space between; Chinese: none)."""
    text = sentences[0]
    for sentence in sentences[1:]:
        text = _("{sentence} {next_sentence}").format(sentence=text, next_sentence=sentence)
    return text


def _outcome_sentences(histories: Sequence[History]) -> list[str]:
    """How the runs ended: divergence, a final loss that is not finite, losses and accuracies."""
    out: list[str] = []
    for h in histories:
        if h.status == "diverged":
            out.append(
                _(
                    "{name} diverged at step {step}: its loss became NaN or infinite, so it stopped there; the "
                    "curves show everything up to step {last}."
                ).format(name=h.name, step=h.diverged_at, last=h.step[-1] if h.step else 0)
            )
    for h in histories:
        if h.status != "diverged" and h.final.get("train_loss") is not None and not is_number(h.final["train_loss"]):
            out.append(
                _(
                    "{name}'s loss on the whole training set at the end was not a finite number: it blew up after "
                    "its last logged step, so the numbers below use its last finite steps."
                ).format(name=h.name)
            )
    done = [h for h in histories if h.step and h.status != "diverged"]
    if len(done) >= 2:
        losses = {h.name: h.final_train_loss() for h in done}
        ranked = sorted((v, n) for n, v in losses.items() if v is not None)
        if len(ranked) >= 2:
            (best_v, best), (worst_v, worst) = ranked[0], ranked[-1]
            whole = "whole" if all(is_number(h.final.get("train_loss")) for h in done) else "steps"
            higher = best_v > 0 and worst_v / best_v >= 1.1
            out.append(
                _(_LOSSES[(whole, higher)]).format(
                    best=best,
                    worst=worst,
                    best_loss=f"{best_v:.3f}",
                    worst_loss=f"{worst_v:.3f}",
                    factor=times(worst_v / best_v) if higher else "",
                )
            )
        accs = {h.name: h.final_train_acc() for h in done}
        if all(v is not None for v in accs.values()):
            each = listing(_("{name} {accuracy}").format(name=n, accuracy=pct(v)) for n, v in accs.items())
            if all(is_number(h.final.get("train_acc")) for h in done):
                out.append(_("Training accuracy on the whole training set: {each}.").format(each=each))
            else:
                out.append(_("Training accuracy, mean over the last 10 batches: {each}.").format(each=each))
    elif len(done) == 1:
        h = done[0]
        loss, acc = h.final_train_loss(), h.final_train_acc()
        if loss is not None and acc is not None:
            if is_number(h.final.get("train_loss")) and is_number(h.final.get("train_acc")):
                template = _(
                    "{name} reached a training loss of {loss} and training accuracy {accuracy} on the whole training set."
                )
            else:
                template = _(
                    "{name} reached a training loss of {loss} and training accuracy {accuracy} (means over its last "
                    "10 batches)."
                )
            out.append(template.format(name=h.name, loss=f"{loss:.3f}", accuracy=pct(acc)))
    return out


def reading(histories: Sequence[History], configs: Sequence[ModelConfig] = ()) -> list[str]:
    """Sentences describing what the learner's own run shows; `configs` (the run's models, when
    known) add what the skip strength alpha did to the gradient."""
    out = _outcome_sentences(histories)
    for h in histories:
        if not h.grad_rms and not h.grad_x_rms:
            continue
        flow = flow_sentence(h)
        if flow is not None:
            out.append(flow)
        cfg = next((c for c in configs if c.name == h.name), None)
        if cfg is not None and cfg.residual and cfg.alpha != 1.0 and h.grad_x_rms and len(h.grad_x_rms[0]) > 1:
            blocks = len(h.grad_x_rms[0]) - 1
            measured = first_last(h.grad_x_rms[0])
            out.append(skip_strength_sentence(cfg.alpha, blocks, measured, name=h.name, step=h.probe_step[0]))
        share = h.identity_share()
        if share is not None:
            out.append(
                _(
                    "In {name} at step {step}, the gradient arriving at a block's input through its identity shortcut "
                    "carried on average {share} of the two paths' summed norm; the block's layers carried the rest."
                ).format(name=h.name, step=h.probe_step[-1], share=pct(share))
            )
    return out


__all__ = ["CANDIDATE", "flow_sentence", "join_sentences", "reading"]
