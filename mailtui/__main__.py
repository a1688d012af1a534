from mailtui.cli.main import main

raise SystemExit(main())
