"""What corral is compared with: the bot-side cleanups it replaces, a bare launch, systemd-run, a bare cgroup."""
