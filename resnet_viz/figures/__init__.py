"""Plotly figure builders: data in, ``go.Figure`` out, never a Streamlit object.

One module per feature (`theory`, `anatomy`, `live_curves` and `live_gradients`, `sweep` for the
degradation page, `analysis`, `saliency`), and `common` for what they share: the model colours
(plain red, residual blue), the common layout, empty states and NaN-safe array helpers.
Import the module you need; this package imports nothing, so it stays cheap.
"""
