from resnet_scale_cli.cli.app import main

main()
