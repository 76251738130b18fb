"""What the pages ask and keep, built on the lessons and their sentences: exercises (the
predict-run-check model), lessons (the gradient-flow, live and degradation pages' exercises), quiz
(predict-then-reveal questions), analysis and anatomy (those pages' exercises), glossary, classroom (every
prediction under one class key, a class part as the live page's settings), and links and settings (a page's settings in its URL).

Beside resnet_viz.figures, above resnet_viz.text: an exercise quotes the sentence that reads its
measurement. May import: i18n, the engine, the lessons, text. Never figures, ui or cli.
"""
