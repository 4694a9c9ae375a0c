from gateway.cli import main

if __name__ == "__main__":  # guarded: spawned workers import this module again
    raise SystemExit(main())
