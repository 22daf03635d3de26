"""The platform under every package: settings, the database and Redis connections, the
embedded Redis, key names, metrics, the server's clock, the error tree, money, rate
limits, the state-machine helper and SMTP. It imports nothing else of the project."""
