"""Dynamic weight grafting between revisions (Nief et al. 2025; METHOD.md §6): ``graft`` (the batched
hooks: many configurations in one forward), ``configs`` (position sets, layer ranges, components)."""
