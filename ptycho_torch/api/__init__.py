"""``ptycho_torch.api``: light; :mod:`ptycho_torch.api.base_api` holds the classes Ptychodus
drives (it imports torch only when a class is used, §4T.2 rule 1)."""
