"""Every state change of instances, volumes and hosts, written once and called from the API, the
dashboard and the tasks alike."""
