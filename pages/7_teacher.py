"""Teacher: the class on this server, for the teacher who holds its key (RESNET_VIZ_TEACHER_KEY)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.i18n import _
from resnet_viz.ui import teacher

ui.page_setup("teacher")

st.title(_("Teacher"))
teacher.keep_cookie()
signed_in = teacher.signed_in()
teacher.about(folded=signed_in)
if not signed_in:
    if teacher.enabled():
        teacher.sign_in()
    st.stop()

teacher.sign_out_button()
st.subheader(_("Jobs on this server"))
teacher.jobs_view()
st.subheader(_("The class's degradation chart"))
teacher.chart_view()
st.subheader(_("The class's predictions"))
teacher.predictions_view()
st.subheader(_("Assignment"))
st.caption(
    _(
        "Each browser that opens Train & compare from now on gets the next part, filled in and explained; a browser "
        "keeps its part when it comes back. After the last part the list starts again on the next seed."
    )
)
teacher.assignment_view()
