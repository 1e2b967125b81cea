"""Classified layer: versioned, per-item interpretation of normalized rows.

Each classifier is a YAML file in the classifiers folder (the shipped config/classifiers/, star_pipeline/defaults/classifiers/
in an installed copy, unless the config names another);
each version of a file is a dynamic partition of its asset, named
`<classifier>-<first 8 hex of the file's sha256>`, and versions coexist.
"""
