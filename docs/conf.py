"""Sphinx configuration of the rpkit documentation site (``make docs``).

The site is built offline: no intersphinx, no fonts or scripts from a CDN (the
pydata theme bundles its own), no analytics, no version switcher, and the
notebook widgets' JavaScript (which myst-nb would load from a CDN) is left out,
so each widget shows its text form. The tutorials are the executed notebooks of
``notebooks/``, rendered with their stored outputs and never run here
(``nb_execution_mode = "off"``); ``docs/tutorials`` is a symbolic link to
``../notebooks``, so each notebook is kept once in git and the site shows the
outputs as they were last stored by ``make notebooks``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # autodoc and sphinx-click import this checkout's rpkit

import rpkit  # noqa: E402
import rpkit.corpus  # noqa: E402

# rpkit.corpus binds its names on first use (so that `rpkit --help` does not import
# Dask); bind them now, so that autodoc, which lists a module's members, sees them.
for _name in rpkit.corpus.__all__:
    getattr(rpkit.corpus, _name)

project = "rpkit"
author = "the rpkit authors"
copyright = "the rpkit authors, MIT licence"
release = version = rpkit.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and the notebooks (it loads myst_parser itself)
    "sphinx.ext.autodoc",
    "sphinx_click",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "**/.ipynb_checkpoints",
    "DESIGN.md",  # the design document of the repository; the site has concepts.md
]

# MyST and the notebooks
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the stored outputs are shown as they are
nb_ipywidgets_js = {}  # no RequireJS or widget manager from a CDN
# A widget's view cannot render without that JavaScript: show its text form instead.
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
]
nb_merge_streams = True

# autodoc: signatures with their annotations as written, members in source order
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# (undoc-members: a public name without a docstring is still listed, with its signature)
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}

# HTML
html_theme = "pydata_sphinx_theme"
html_title = "rpkit"
html_static_path: list[str] = []
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "navbar_end": ["theme-switcher"],
    "icon_links": [],
    "use_edit_page_button": False,
    "show_version_warning_banner": False,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
