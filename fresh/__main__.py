from fresh.cli import main

main()
