"""What runs inside the agents, and what puts it there: the agent-side integrations.

The agents (Claude Code, Codex) run these commands themselves, on their own schedule:
- hook.py: `star-pipeline hook`, on every hook event: one payload appended to the spool;
- statusline.py: `star-pipeline statusline`, every few hundred milliseconds: Claude Code's status line;
- brief.py: `star-pipeline brief`, at a session's start: the project's brief, into the new session's context;
- guard.py: `star-pipeline guard`, before every prompt and tool call: refuses them once a `block` budget is over.
And these put them into the agents' own files:
- install_hooks.py: `star-pipeline install-hooks` (Claude Code's settings.json: the hook, the brief, the status line,
  the guard);
- install_mcp.py: `star-pipeline install-mcp` (registers `star-pipeline mcp`, whose server is search/mcp_server.py);
- settings_files.py: changing a user's configuration file the one safe way (backup, atomic replace, permissions
  kept), for the installers and for `classifiers init` (star_pipeline's own config.yaml).

The installers write each command into the agents' files as `star-pipeline <subcommand> ...` (cli.py), never as a
module path: moving a module here breaks no user's installed settings.

Import rules (an agent waits on these commands; DESIGN.md, "Fixed costs"):
- this file imports nothing, so that importing any module here costs only that module;
- hook.py imports neither dagster nor duckdb (nor yaml, when given its spool folder as install-hooks installs it):
  the standard library and storage/machine_id.py, and the config only when neither --spool-dir nor
  STAR_PIPELINE_SPOOL_DIR names the spool folder;
- statusline.py, guard.py and brief.py never import dagster or duckdb: the standard library and the storage modules
  that describe the files they read (storage/statusline_file.py, storage/budgets_file.py, storage/brief_files.py);
  the statusline and the guard read the config only when no --file is given, the brief never;
- modules here may import storage and config, and each other; storage, config and the layers never import from
  here, except classified/init_folder.py (`classifiers init`, a command), which uses settings_files.
"""
