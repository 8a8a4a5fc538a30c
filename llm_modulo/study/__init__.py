"""Studies: a grid of solves (domains x problem sets x models x strategies x critic modes x
feedback levels x round limits), resumable, recorded in the corpus, reported as the papers
report them (``llm-modulo study CONFIG.yaml``).

Modules: :mod:`.config` (the YAML file, validated), :mod:`.problems` (problem sets),
:mod:`.cells` (the grid), :mod:`.results` (the resumable cell results), :mod:`.runner`
(solving the cells), :mod:`.report` (tables, plots, report.md).
"""
