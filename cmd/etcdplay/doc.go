// Command etcdplay runs etcd's documented rolling upgrades as reviewed,
// versioned playbooks over plain SSH.
//
// One cobra command per file. Commands return errors carrying their exit
// code (internal/exit); main is the only place that prints them and calls
// os.Exit.
package main
