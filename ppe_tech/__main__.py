"""`python -m ppe_tech` runs the command line."""

from ppe_tech.cli import main

if __name__ == "__main__":
    main()
