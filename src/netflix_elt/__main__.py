from netflix_elt.cli import main

main()
