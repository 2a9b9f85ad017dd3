import sys

try:
    from .run import main

    sys.exit(main())
except KeyboardInterrupt:
    print("benchmarks: interrupted", file=sys.stderr)
    sys.exit(130)
