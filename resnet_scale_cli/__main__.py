from resnet_scale_cli.cli import main

main()
