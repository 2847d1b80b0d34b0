"""Command line (top layer; nothing imports it): typer commands and terminal rendering.

`app.py` only wires the app: global options, and one `register(app)` per command family
(`platform.py`: plan/install/status/uninstall/credentials; `config.py`: init/schema/version/versions;
`render.py`; `profiles.py`; `bundle.py`). Commands turn their options into a `kfboot.session.Session`
and render what it returns (`ui.py` live table/plain/NDJSON, `plan_view.py`); no cluster logic here.
"""
