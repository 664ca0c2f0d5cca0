from sparkrl.cli import main

raise SystemExit(main())
