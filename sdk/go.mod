module github.com/sluice-gw/sluice/sdk

go 1.26.8
