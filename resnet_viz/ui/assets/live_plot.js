// ResNet Lab's live chart (resnet_viz/ui/live_plot.py): one plotly.js graph kept alive in the
// page and redrawn in place with Plotly.react when its figure changes.
//
// Why not st.plotly_chart: Streamlit 1.67 hashes the figure into the chart element's id, so a
// changed figure is a new element: React unmounts the old graph and plotly.js builds a new one
// from nothing (Plotly.newPlot, every SVG layer, every label measured twice for the margins).
// On the live page that was most of the browser's CPU (bench/bench_live.py). Plotly.react on the
// graph that is already there redraws the same figure in about a sixth of the time.

// st.plotly_chart's fullscreen button, kept: the graph fills the window until pressed again (or Esc).
const EXPAND = "M0 0h5v2H2v3H0zM11 0h5v5h-2V2h-3zM0 11h2v3h3v2H0zM14 11h2v5h-5v-2h3z";
function toggleFullscreen(gd) {
  const Plotly = window.Plotly;
  const full = !gd.classList.contains("rl-full");
  gd.classList.toggle("rl-full", full);
  Object.assign(gd.style, full
    ? { position: "fixed", inset: "0", zIndex: "1000100", background: "white", height: "100vh" }
    : { position: "", inset: "", zIndex: "", background: "", height: `${gd.rlHeight}px` });
  Plotly.relayout(gd, full
    ? { width: window.innerWidth, height: window.innerHeight }
    : { width: Math.max(150, gd.parentElement.clientWidth), height: gd.rlHeight });
  if (full) {
    gd.rlEsc = (e) => e.key === "Escape" && toggleFullscreen(gd);
    window.addEventListener("keydown", gd.rlEsc);
  } else {
    window.removeEventListener("keydown", gd.rlEsc);
  }
}

const CONFIG = {
  displaylogo: false,
  displayModeBar: "hover",
  modeBarButtonsToRemove: ["lasso2d", "select2d", "sendChartToCloud"],
  modeBarButtonsToAdd: [{ name: "Fullscreen", title: "Fullscreen", icon: { width: 16, height: 16, path: EXPAND }, click: toggleFullscreen }],
  responsive: false, // sized to its column by the ResizeObserver below
};

let plotly = null; // one plotly.js for the page, loaded at the first chart
let theme = null; // Streamlit's plotly theme (assets/plotly_theme.json)

function loadPlotly(src) {
  if (!plotly) {
    plotly = window.Plotly
      ? Promise.resolve(window.Plotly)
      : new Promise((resolve, reject) => {
          const script = document.createElement("script");
          script.src = src;
          script.async = true;
          script.onload = () => resolve(window.Plotly);
          script.onerror = () => {
            plotly = null; // the next chart tries again
            reject(new Error(`plotly.js did not load from ${src}`));
          };
          document.head.appendChild(script);
        });
  }
  return plotly;
}

// One chart is drawn at a time, each in a task of its own: a page that opens with four charts in
// view shows the first (the loss curves) when it is drawn, not after the fourth. Drawn all in one
// go, from the task in which plotly.js loaded, the four took 0.4 s before anything was painted.
let turns = Promise.resolve();
function inTurn(job) {
  const turn = turns.then(() => new Promise((resolve) => setTimeout(resolve, 0))).then(job);
  turns = turn.catch(() => {});
  return turn;
}

function loadTheme(src) {
  if (!theme) {
    theme = fetch(src).then((r) => {
      if (!r.ok) throw new Error(`the chart theme did not load from ${src} (${r.status})`);
      return r.json();
    });
    theme.catch(() => (theme = null));
  }
  return theme;
}

function graphIn(parent) {
  let gd = parent.querySelector(":scope > div.rl-live-plot");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "rl-live-plot";
    gd.style.width = "100%";
    // What plotly redraws inside stays inside: no layout or paint of the rest of the page.
    gd.style.contain = "layout paint";
    gd.style.height = "450px"; // plotly's default, until the figure says
    parent.appendChild(gd);
    // A chart out of sight is not drawn (its newest figure waits) and is drawn at once when it
    // comes into view: a learner watching the loss curves does not pay for the gradient charts
    // below them, and a page that opens draws the charts on screen first. Unknown until the
    // observer's first call, a frame after this.
    gd.rlVisible = null;
    new IntersectionObserver(
      ([entry]) => {
        gd.rlVisible = entry.isIntersecting;
        if (gd.rlVisible && gd.rlWaiting) {
          const waiting = gd.rlWaiting;
          gd.rlWaiting = null;
          draw(parent, waiting);
        }
      },
      { rootMargin: "200px" },
    ).observe(gd);
  }
  return gd;
}

async function redraw(gd, Plotly, template) {
  // Newest figure wins: updates that came while plotly drew are skipped, not queued.
  while (gd.rlNext) {
    const data = gd.rlNext;
    gd.rlNext = null;
    if (data.spec === gd.rlDrawn) continue;
    const fig = JSON.parse(data.spec);
    const layout = fig.layout || {};
    layout.template = template;
    if (layout.title && layout.title.text) {
      layout.title.text = `<b>${layout.title.text}</b>`; // as Streamlit's theme sets a chart's title
    }
    gd.rlHeight = layout.height = layout.height || 450;
    if (gd.classList.contains("rl-full")) {
      Object.assign(layout, { width: window.innerWidth, height: window.innerHeight });
    } else {
      layout.width = Math.max(150, gd.clientWidth || 0);
      gd.style.height = `${layout.height}px`;
    }
    await Plotly.react(gd, fig.data || [], layout, CONFIG);
    gd.rlDrawn = data.spec;
    gd.dataset.rlDraws = String(Number(gd.dataset.rlDraws || 0) + 1); // read by the tests and bench
  }
  if (!gd.rlResize) {
    let last = gd.clientWidth;
    gd.rlResize = new ResizeObserver(() => {
      if (gd.clientWidth && gd.clientWidth !== last && !gd.classList.contains("rl-full")) {
        last = gd.clientWidth;
        Plotly.relayout(gd, { width: Math.max(150, last) });
      }
    });
    gd.rlResize.observe(gd);
  }
}

export function draw(parent, data) {
  const gd = graphIn(parent);
  if (gd.rlVisible !== true) {
    gd.rlWaiting = data; // the newest figure waits until the chart is in sight
    return;
  }
  gd.rlNext = data;
  if (gd.rlBusy) return;
  gd.rlBusy = true;
  Promise.all([loadPlotly(data.plotly), loadTheme(data.theme)])
    .then(([Plotly, template]) => inTurn(() => redraw(gd, Plotly, template)))
    .catch((err) => {
      gd.textContent = `This chart could not be drawn: ${err.message}`;
    })
    .finally(() => {
      gd.rlBusy = false;
      if (gd.rlNext) draw(parent, gd.rlNext);
    });
}
