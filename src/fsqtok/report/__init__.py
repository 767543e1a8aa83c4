"""Reports people read: the offline HTML pages, the plots and the profile summaries. Used by
the stages and the CLI only; nothing in the library below imports it."""
