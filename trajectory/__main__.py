from trajectory.cli import main

raise SystemExit(main())
