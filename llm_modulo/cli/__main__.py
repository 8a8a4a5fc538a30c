from llm_modulo.cli import main

main()
