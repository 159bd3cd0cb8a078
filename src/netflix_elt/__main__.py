from netflix_elt.cli.main import main

main()
