"""The scheduler: filter and score plugins over node views, then a CAS binding."""
