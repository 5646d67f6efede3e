"""What varies at the edge: input engines, dataset readers and model sources."""
