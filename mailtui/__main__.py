from mailtui.cli import main

raise SystemExit(main())
