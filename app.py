"""ResNet Lab router: `streamlit run app.py`.

Pages are registered in resnet_viz.ui.PAGES; this file only wires them into st.navigation
and draws the sidebar every page shares.
"""

import streamlit as st

from resnet_viz import ui

st.set_page_config(page_title="ResNet Lab", page_icon=":material/stacked_line_chart:", layout="wide")

pg = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=(i == 0)) for i, p in enumerate(ui.PAGES)])
ui.sidebar()
ui.start_workers()
pg.run()
