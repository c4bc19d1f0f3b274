// Dependency pins that build etcd 3.0.17 (which has no go.mod) in module mode
// with go1.21.13: see README.md next to this folder.
module bed/etcd3.0.17

go 1.20

require (
	github.com/coreos/etcd v3.0.17+incompatible
	github.com/bgentry/speakeasy v0.1.0
	github.com/coreos/go-semver v0.2.0
	github.com/coreos/pkg v0.0.0-20160727233714-3ac0863d7acf
	github.com/creack/pty v1.1.7
	github.com/dgrijalva/jwt-go v3.2.0+incompatible
	github.com/dustin/go-humanize v0.0.0-20171111073723-bb3d318650d4
	github.com/fatih/color v1.7.0
	github.com/gogo/protobuf v1.2.1
	github.com/golang/groupcache v0.0.0-20160516000752-02826c3e7903
	github.com/golang/protobuf v1.3.2
	github.com/google/btree v1.0.0
	github.com/google/uuid v1.0.0
	github.com/gorilla/websocket v0.0.0-20170926233335-4201258b820c
	github.com/inconshreveable/mousetrap v1.0.0
	github.com/jonboulle/clockwork v0.1.0
	github.com/json-iterator/go v1.1.7
	github.com/mattn/go-colorable v0.0.9
	github.com/mattn/go-isatty v0.0.4
	github.com/mattn/go-runewidth v0.0.2
	github.com/modern-go/reflect2 v1.0.1
	github.com/olekukonko/tablewriter v0.0.0-20170122224234-a0225b3f23b5
	github.com/prometheus/client_model v0.0.0-20190812154241-14fe0d1b01d4
	github.com/sirupsen/logrus v1.4.2
	github.com/spf13/cobra v0.0.3
	github.com/spf13/pflag v1.0.1
	github.com/urfave/cli v1.20.0
	github.com/xiang90/probing v0.0.0-20190116061207-43a291ad63a2
	go.uber.org/atomic v1.3.2
	go.uber.org/multierr v1.1.0
	go.uber.org/zap v1.10.0
	golang.org/x/crypto v0.0.0-20190308221718-c2843e01d9a2
	golang.org/x/net v0.0.0-20190813141303-74dc4d7220e7
	golang.org/x/sys v0.0.0-20190826190057-c7b8b68b1456
	golang.org/x/text v0.3.3
	golang.org/x/time v0.0.0-20180412165947-fbb02b2291d2
	gopkg.in/cheggaaa/pb.v1 v1.0.25
	gopkg.in/yaml.v2 v2.2.2
	sigs.k8s.io/yaml v1.1.0
	github.com/ugorji/go v0.0.0-20170107133203-ded73eae5db7
	github.com/boltdb/bolt v1.3.1
	github.com/cockroachdb/cmux v0.1.4
	github.com/prometheus/client_golang v0.9.2
	google.golang.org/grpc v1.0.1-GA
	github.com/grpc-ecosystem/grpc-gateway v1.1.0
	github.com/ghodss/yaml v1.0.0
	github.com/coreos/go-systemd v0.0.0-20160815185329-bfdc81d0d7e0
)

replace github.com/cockroachdb/cmux => github.com/soheilhy/cmux v0.1.4
