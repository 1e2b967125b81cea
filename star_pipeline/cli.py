"""The `star-pipeline` command line.

Subcommands import what they need when they run: `hook` must stay on the
standard library (no dagster, no duckdb) to start in milliseconds.
"""

from __future__ import annotations

import sys


def _parser():
    import argparse

    from star_pipeline.sources import with_messages

    agents = [source.name for source in with_messages()]
    parser = argparse.ArgumentParser(
        prog="star-pipeline",
        description=f"A local DuckDB warehouse of what {len(agents)} AI coding agents did ({', '.join(agents)}), "
        "kept in four layers (raw, normalized, classified, aggregate) by a Dagster code location. "
        "Configuration: the defaults overlaid key by key by your file, "
        "$XDG_CONFIG_HOME/star_pipeline/config.yaml (~/.config/star_pipeline/config.yaml) or the one "
        "STAR_PIPELINE_CONFIG names; `star-pipeline config` shows the result and where each value came from.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    hook = commands.add_parser(
        "hook", help="spool one Claude Code hook payload from stdin (used by Claude Code itself)"
    )
    hook.add_argument("--spool-dir", help="spool folder (default: STAR_PIPELINE_SPOOL_DIR, else the config's)")

    install = commands.add_parser("install-hooks", help="add the hook for every event to Claude Code's settings.json")
    install.add_argument("--settings", help="settings.json to change (default: ~/.claude/settings.json)")
    install.add_argument("--uninstall", action="store_true", help="remove star-pipeline's hooks instead")
    install.add_argument("--spool-dir", help="spool folder the hook writes to (default: the config's)")
    install.add_argument("--brief", action="store_true",
                         help="also print a brief of the project's recent work at each session start (SessionStart)")
    install.add_argument("--statusline", action="store_true",
                         help="also set Claude Code's status line to `star-pipeline statusline`")
    install.add_argument("--guard", action="store_true",
                         help="also run `star-pipeline guard` before each prompt and tool call (UserPromptSubmit, "
                         "PreToolUse): a `block` budget that is over refuses them")
    install.add_argument("--force", action="store_true",
                         help="with --statusline: replace a status line that is not star-pipeline's")

    statusline = commands.add_parser(
        "statusline", help="print Claude Code's status line for the JSON on stdin: session, today and 5-hour block "
        "cost, burn rate, context (used by Claude Code itself, see install-hooks --statusline)")
    statusline.add_argument("--file", help="the published <warehouse>.statusline.jsonl (default: the config's)")
    statusline.add_argument("--machine", metavar="NAME", help="the machine.id this runs on, for the budgets' machine "
                            "filters (default: the config's; install-hooks passes it on a team's lake)")

    guard = commands.add_parser(
        "guard", help="check the budgets for the Claude Code hook payload on stdin: exit 2 with the reason when a "
        "`block` budget of the session is over, warn once past warn_at (used by Claude Code itself, see "
        "install-hooks --guard)")
    guard.add_argument("--file", help="the published <warehouse>.budgets.jsonl (default: the config's)")
    guard.add_argument("--machine", metavar="NAME", help="the machine.id this runs on, for the budgets' machine "
                       "filters and its own record of warnings given (default: the config's; install-hooks passes it "
                       "on a team's lake)")

    budgets = commands.add_parser(
        "budgets", help="each budget of the config: its window, spent (as `report` counts it), remaining, projection "
        "and status (ok, warn, over), and the alerts recorded")
    budgets.add_argument("--json", action="store_true", help='{"budgets": [...], "alerts": [...]}')

    brief = commands.add_parser("brief", help="print the project's brief for a SessionStart payload on stdin "
                                "(used by Claude Code itself, see install-hooks --brief)")
    brief.add_argument("--dir", help="the briefs folder (<warehouse>.briefs)")

    build = commands.add_parser("build", help="materialize every layer in-process, with progress "
                                "(stops at once when nothing changed since the last successful build)")
    build.add_argument("--force", action="store_true",
                       help="run every step even when nothing changed since the last successful build")
    build.add_argument("--raw-only", action="store_true",
                       help="capture this machine's new lines into the raw layer and stop: a team member's machine on "
                       "a DuckLake (warehouse.kind: ducklake), where one elected writer rebuilds the layers above "
                       "(stops at once when no source file changed since the last raw-only capture)")

    migrate = commands.add_parser(
        "migrate-to-ducklake", help="copy a single-file warehouse's raw layer into the DuckLake the config names "
        "(warehouse.kind: ducklake), rebuild the other layers there, and compare the counts")
    migrate.add_argument("--from", dest="source", help="the old warehouse file (default: the config's warehouse.path)")

    report = commands.add_parser(
        "report", help="token and cost reports (ccusage 20's flags and --json), and tool calls by outcome (report "
        "tools); reads the warehouse or its published copies, no dagster"
    )
    _report_parsers(report, with_messages())

    sql = commands.add_parser("sql", help="run read-only SQL on the star schema (star.*, masked), the search copy "
                              "(search.*) and the report copy (reports.aggregate.*); never the writer lock")
    sql.add_argument("query", help='e.g. "SELECT tool_name, count(*) FROM fact_tool_call GROUP BY ALL"; printed as a '
                     "table (cells cut at 100 characters) unless --json or --csv")
    sql_output = sql.add_mutually_exclusive_group()
    sql_output.add_argument("--json", action="store_const", const="json", dest="output", help="a list of objects")
    sql_output.add_argument("--csv", action="store_const", const="csv", dest="output", help="CSV with a header row")
    export = commands.add_parser("export", help="write the star schema's facts and dimensions (masked) to DIR, one "
                                 "owner-only file per table, for BI tools and notebooks")
    export.add_argument("directory", metavar="DIR", help="folder to write into (created; must be empty without --force)")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (default parquet)")
    export.add_argument("--force", action="store_true", help="write into a folder that is not empty, replacing the "
                        "tables' files (other files are left alone)")

    search = commands.add_parser("search", help="find past sessions by words and by meaning; reads the search copy")
    search.add_argument("query", help="what to look for, in your own words")
    search.add_argument("--json", action="store_true", help='{"hits": [...]}')
    search.add_argument("--limit", type=int, default=10, help="hits to show, one per session (default 10)")
    search.add_argument("--mode", choices=["lexical", "semantic", "hybrid"], default="hybrid",
                        help="BM25 words, embeddings, or both fused (default)")
    search.add_argument("--project", help="project path (or its last part)")
    search.add_argument("--source", choices=[s.name for s in with_messages()], help="one source only")
    search.add_argument("--machine", metavar="NAME", help="one machine's sessions only (its machine.id)")
    search.add_argument("--since", help="first date, YYYYMMDD or YYYY-MM-DD (UTC, inclusive)")
    search.add_argument("--until", help="last date, YYYYMMDD or YYYY-MM-DD (UTC, inclusive)")

    embeddings = commands.add_parser("embeddings", help="list or delete the embedding models' vectors search keeps")
    embedding_commands = embeddings.add_subparsers(dest="embeddings_command", required=True)
    embedding_commands.add_parser("list", help="every model with vectors stored, and the configured one")
    delete_model = embedding_commands.add_parser("delete", help="delete one model's vectors")
    delete_model.add_argument("model", help="e.g. sentence-transformers:all-MiniLM-L6-v2 (as `embeddings list` prints it)")

    serve = commands.add_parser("serve", help="a local web dashboard (cost, projects, sessions, tools, search); "
                                "reads the published copies only")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8484, help="port (default 8484)")
    serve.add_argument("--allow-network", action="store_true",
                       help="allow a --host other than loopback (anyone reaching it can read your sessions)")
    serve.add_argument("-z", "--timezone", help="IANA time zone for dates (default: the system's; ?tz= in a page's URL)")

    commands.add_parser("mcp", help="serve the history to an agent over MCP (stdio); reads the published copies only")
    install_mcp = commands.add_parser("install-mcp", help="register `star-pipeline mcp` for Claude Code and Codex")
    install_mcp.add_argument("--claude-config", help="Claude Code's user config (default: ~/.claude.json)")
    install_mcp.add_argument("--codex-config", help="Codex's config (default: ~/.codex/config.toml)")
    install_mcp.add_argument("--only", choices=["claude", "codex"], help="register for one agent only")
    install_mcp.add_argument("--uninstall", action="store_true", help="remove the registration instead")

    commands.add_parser("config", help="print the effective configuration (YAML), each value with where it came "
                        "from: default, file (yours) or environment (a variable it expands)")

    classifiers = commands.add_parser("classifiers", help="copy the default classifiers to edit; list or delete "
                                      "classifier versions")
    classifier_commands = classifiers.add_subparsers(dest="classifiers_command", required=True)
    init = classifier_commands.add_parser(
        "init", help="copy the default classifiers into a folder of yours and point classified.classifiers_dir at it "
        "in your config file (created if absent); files already there are kept")
    init.add_argument("dir", nargs="?", metavar="DIR",
                      help="the folder (default: classifiers beside your config.yaml, ~/.config/star_pipeline/classifiers)")
    classifier_commands.add_parser("list", help="every version: rows stored, current file, registered partition")
    delete = classifier_commands.add_parser("delete", help="delete one version's rows and partition")
    delete.add_argument("version", help="e.g. message_kinds-1a2b3c4d")
    return parser


def _report_parsers(report, sources) -> None:
    """`report daily|weekly|monthly|hourly|session|blocks|projects`, with ccusage 20.0.24's flags (ReportOptions in
    reports/report.py says what each does here)."""
    import argparse

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-j", "--json", action="store_true", help="ccusage 20 JSON (Codex shape with --source codex)")
    common.add_argument("-s", "--since", help="first date, YYYYMMDD or YYYY-MM-DD (inclusive)")
    common.add_argument("-u", "--until", help="last date, YYYYMMDD or YYYY-MM-DD (inclusive)")
    common.add_argument("-z", "--timezone", help="IANA time zone for dates (default: the system's)")
    common.add_argument("--source", choices=[s.name for s in sources], help="one source only")
    common.add_argument("-p", "--project", help="a project as `report projects` lists it: its path, last part or "
                        "Claude Code folder name")
    common.add_argument("--machine", nargs="?", const="", metavar="NAME",
                        help="a row per machine (its machine.id); with NAME, that machine's rows only")
    common.add_argument("--model", metavar="NAME", help="one model's calls only, as the agents name it (e.g. "
                        "claude-opus-4-6; its fast-mode calls included)")
    common.add_argument("-o", "--order", choices=["asc", "desc"], help="oldest first (asc, default) or newest first")
    common.add_argument("-b", "--breakdown", action="store_true", help="a row per model under each row of the table")
    common.add_argument("--compact", action="store_true", help="fewer columns, for narrow terminals")
    common.add_argument("--no-cost", action="store_true", help="no cost columns, no cost fields in the JSON")
    common.add_argument("-m", "--mode", choices=["auto", "calculate", "display"], default="auto",
                        help="auto: the cost the agent's file records for a call where it records one (Cline, Roo Code, "
                        "Kilo Code, pi, OpenCode), else the cost priced from its tokens; calculate: always priced from the tokens; "
                        "display: only the recorded cost (0 where none)")
    for flags in (("-O", "--offline"), ("--no-offline",), ("--color",), ("--no-color",), ("--single-thread",)):
        common.add_argument(*flags, action="store_true", help=argparse.SUPPRESS)  # ccusage's; nothing to do here
    kinds = report.add_subparsers(dest="report", required=True,
                                  metavar="daily|weekly|monthly|hourly|session|blocks|projects|tools")
    for name in ("daily", "weekly", "monthly", "hourly"):
        period = kinds.add_parser(name, parents=[common], help=f"{name} totals")
        period.add_argument("--by", choices=["project", "branch", "model", "source", "agent_type", "machine"],
                            help="a row per period and project, git branch, model, source, agent type (main, "
                                 "compaction, or the subagent's type) or machine")
        period.add_argument("-i", "--instances", action="store_true", help="one table (JSON: one list) per project")
        period.add_argument("--last", type=int, metavar="N",
                            help=f"only the latest N {'days' if name == 'daily' else name[:-2] + 's'} (1: the current one)")
    session = kinds.add_parser("session", parents=[common], help="totals per session")
    session.add_argument("-i", "--id", dest="session_id", help="one session only")
    blocks = kinds.add_parser("blocks", parents=[common], help="5-hour billing blocks")
    blocks.add_argument("-a", "--active", action="store_true", help="the active block only, with burn rate and projection")
    blocks.add_argument("-r", "--recent", action="store_true", help="blocks of the last 3 days")
    blocks.add_argument("-t", "--token-limit", help="tokens per block to warn at: a number, or max (the most any block used)")
    blocks.add_argument("-n", "--session-length", type=float, default=5.0, help="block length in hours (default 5)")
    kinds.add_parser("projects", parents=[common], help="every project, with its sessions, tokens and cost")
    tools = kinds.add_parser(
        "tools", help="per agent and tool: calls, failed, rejected, interrupted and unknown outcomes (as the agents' "
        "files record them), failure rate, median and p90 duration, the latest failures (masked); reads the search copy")
    tools.add_argument("-j", "--json", action="store_true", help='{"tools": [...], "totals": {...}}')
    tools.add_argument("--source", choices=[s.name for s in sources], help="one agent only")
    tools.add_argument("-p", "--project", help="a project: its path or last part")
    tools.add_argument("-s", "--since", help="first date, YYYYMMDD or YYYY-MM-DD (UTC, inclusive)")
    tools.add_argument("-u", "--until", help="last date, YYYYMMDD or YYYY-MM-DD (UTC, inclusive)")
    tools.add_argument("--examples", type=int, default=3, metavar="N", help="latest failures to show per tool (0-10, "
                       "default 3)")


def _project_values_joined(argv: list[str]) -> list[str]:
    """`--project -home-u-app` as `--project=-home-u-app`: Claude Code's project folder names (which ccusage users
    pass as they are) start with a dash, which argparse would take for an option."""
    joined: list[str] = []
    items = iter(range(len(argv)))
    for i in items:
        if argv[i] in ("-p", "--project") and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--") and len(argv[i + 1]) > 2:
            joined.append(f"--project={argv[i + 1]}")
            next(items, None)
        else:
            joined.append(argv[i])
    return joined


def _fast_options(words: list[str]) -> dict | None:
    """`--file F` and `--machine M` (each at most once, in any order) of the statusline and the guard, read without
    argparse; None for anything else (help, `--file=F`, a mistake), which argparse then handles."""
    options = {}
    if len(words) % 2:
        return None
    for name, value in zip(words[::2], words[1::2]):
        if name not in ("--file", "--machine") or name in options:
            return None
        options[name] = value
    return options


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import os

    os.umask(0o077)  # every file a command creates is its owner's only (storage/private_files.py)
    if argv[:1] == ["hook"]:  # the hot path: no argparse help, no config unless needed
        from star_pipeline.agent_side.hook import run_hook

        spool = None
        if len(argv) >= 3 and argv[1] == "--spool-dir":
            spool = argv[2]
        return run_hook(spool)
    fast = _fast_options(argv[1:]) if argv[:1] in (["statusline"], ["guard"]) else None
    if argv[:1] == ["statusline"] and fast is not None:
        from star_pipeline.agent_side.statusline import run_statusline  # run every few hundred ms: no argparse, no config

        return run_statusline(fast.get("--file"), machine=fast.get("--machine"))
    if argv[:1] == ["guard"] and fast is not None:
        from star_pipeline.agent_side.guard import run_guard  # before every prompt and tool call: no argparse

        return run_guard(fast.get("--file"), machine=fast.get("--machine"))
    if argv[:1] == ["brief"]:  # a SessionStart hook: as fast, as quiet
        from star_pipeline.agent_side.brief import run_brief

        return run_brief(argv[2] if len(argv) >= 3 and argv[1] == "--dir" else None)
    args = _parser().parse_args(_project_values_joined(argv))
    try:
        if args.command == "install-hooks":
            from star_pipeline.agent_side.install_hooks import default_settings_path, install_hooks

            from star_pipeline.config import load_settings
            from star_pipeline.storage.brief_files import briefs_dir

            from star_pipeline.storage.statusline_file import statusline_file

            if args.force and not args.statusline:
                print("star-pipeline install-hooks: --force only applies with --statusline (it replaces a status line "
                      "that is not star-pipeline's)", file=sys.stderr)
                return 2
            settings = load_settings()
            spool = args.spool_dir or str(settings.hook_spool_dir)
            # the published anchor: on a lake, the writer's files every team machine reads (config.py)
            brief = str(briefs_dir(settings.published_anchor)) if args.brief else None
            statusline = str(statusline_file(settings.published_anchor)) if args.statusline else None
            from star_pipeline.storage.budgets_file import budgets_file

            guard = str(budgets_file(settings.published_anchor)) if args.guard else None
            return install_hooks(args.settings or default_settings_path(), spool, uninstall=args.uninstall,
                                 briefs=brief, statusline=statusline, force=args.force, guard=guard,
                                 machine=settings.machine_id if settings.lake is not None else None)
        if args.command == "statusline":  # --file=PATH and the like, which the fast path above leaves to argparse
            from star_pipeline.agent_side.statusline import run_statusline

            return run_statusline(args.file, machine=args.machine)
        if args.command == "guard":
            from star_pipeline.agent_side.guard import run_guard

            return run_guard(args.file, machine=args.machine)
        if args.command == "budgets":
            from star_pipeline.config import load_settings
            from star_pipeline.reports.budgets import run_budgets

            return run_budgets(load_settings(), as_json=args.json)
        if args.command == "build":
            from star_pipeline.build import run_build
            from star_pipeline.storage.private_files import restrict_tree

            if os.environ.get("DAGSTER_HOME"):
                restrict_tree(os.environ["DAGSTER_HOME"])  # run history written before umask 077 was set

            return run_build(force=args.force, raw_only=args.raw_only)
        if args.command == "migrate-to-ducklake":
            from star_pipeline.build import run_migrate_to_ducklake

            return run_migrate_to_ducklake(args.source)
        if args.command == "report" and args.report == "tools":
            from star_pipeline.config import load_settings
            from star_pipeline.search.tool_report import ToolsOptions, run_tools_report

            options = ToolsOptions(args.json, args.source, args.project, args.since, args.until, args.examples)
            return run_tools_report(options, load_settings().published_anchor)
        if args.command == "report":
            from star_pipeline.config import load_settings
            from star_pipeline.reports.report import ReportOptions, run_report

            settings = load_settings()
            return run_report(ReportOptions.from_args(args), settings.warehouse_path, lake=settings.lake,
                              published=settings.published_anchor)
        if args.command in ("sql", "export"):  # the published copies, read-only (reports/sql.py, reports/export.py)
            from star_pipeline.config import load_settings

            settings = load_settings()
            if args.command == "sql":
                from star_pipeline.reports.sql import run_sql

                return run_sql(args.query, settings.warehouse_path, args.output or "table", lake=settings.lake,
                               published=settings.published_anchor)
            from star_pipeline.reports.export import run_export

            return run_export(args.directory, settings.warehouse_path, args.format, args.force, lake=settings.lake)
        if args.command == "search":
            from star_pipeline.config import load_settings
            from star_pipeline.search.query import SearchOptions, run_search

            options = SearchOptions(args.query, args.json, args.limit, args.mode, args.project, args.source,
                                    args.since, args.until, args.machine)
            settings = load_settings()
            return run_search(options, settings.published_anchor, team=settings.lake is not None)
        if args.command == "embeddings":
            from star_pipeline.aggregate.embedding_versions import delete_model, list_models
            from star_pipeline.config import load_settings

            if args.embeddings_command == "list":
                return list_models(load_settings())
            return delete_model(load_settings(), args.model)
        if args.command == "serve":
            from star_pipeline.config import load_settings
            from star_pipeline.dashboard.server import run_serve

            settings = load_settings()
            return run_serve(settings.published_anchor, args.host, args.port, args.allow_network, args.timezone,
                             team=settings.lake is not None)
        if args.command == "mcp":
            from star_pipeline.config import load_settings
            from star_pipeline.search.mcp_server import run_mcp

            settings = load_settings()
            return run_mcp(settings.published_anchor, team=settings.lake is not None)
        if args.command == "install-mcp":
            from star_pipeline.agent_side.install_mcp import default_claude_config, default_codex_config, install_mcp

            claude = None if args.only == "codex" else (args.claude_config or default_claude_config())
            codex = None if args.only == "claude" else (args.codex_config or default_codex_config())
            return install_mcp(claude, codex, uninstall=args.uninstall)
        if args.command == "config":
            from star_pipeline.config import run_show_config

            return run_show_config()
        if args.command == "classifiers":
            from star_pipeline.classified.versions import delete_version, list_versions
            from star_pipeline.config import load_settings

            if args.classifiers_command == "init":
                from star_pipeline.classified.init_folder import init_classifiers

                return init_classifiers(args.dir)
            if args.classifiers_command == "list":
                return list_versions(load_settings())
            return delete_version(load_settings(), args.version)
    except Exception as exc:  # a clear one-line message for known failures
        from star_pipeline.config import ConfigError

        known = (ConfigError, FileNotFoundError)
        try:
            from star_pipeline.reports.export import ExportError
            from star_pipeline.reports.sql import SqlError
            from star_pipeline.reports.star_copy import StarCopyError

            known = known + (SqlError, ExportError, StarCopyError)
        except ImportError:
            pass
        try:
            from star_pipeline.reports.report import ReportError
            from star_pipeline.search.query import SearchError
            from star_pipeline.storage.embeddings import EmbeddingModelError
            from star_pipeline.dashboard.server import ServeError

            known = known + (ReportError, SearchError, EmbeddingModelError, ServeError)
        except ImportError:
            pass
        try:
            from star_pipeline.storage.migrations import MigrationError
            from star_pipeline.storage.warehouse import LakeAttachError, WarehouseFileError, WarehouseLockedError

            known = known + (MigrationError, WarehouseFileError, WarehouseLockedError, LakeAttachError)
        except ImportError:
            pass
        if isinstance(exc, known):
            print(f"star-pipeline: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
