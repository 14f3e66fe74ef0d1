import sys

from optuna_nas.cli._main import main

sys.exit(main())
