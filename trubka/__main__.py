from trubka.cli import main

main()
