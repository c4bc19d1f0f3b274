module github.com/karlseguin/ccache

go 1.20
