"""Power-loss trials: record an operation's file-system calls, build every disk state a
power cut may leave, and check rpkit on each (RELIABILITY.md §1)."""
