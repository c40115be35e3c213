//go:build unix

package standin

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RabbitMQServer is where Debian's rabbitmq-server package puts the server's start script.
const RabbitMQServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// RabbitMQ starts a RabbitMQ server (Debian's rabbitmq-server package, which .ci/run installs) on
// free loopback ports with all its state in a temporary directory, and returns its AMQP URL
// ("amqp://guest:guest@127.0.0.1:PORT/"). It runs its own epmd on its own port, so that it shares
// nothing with other servers on the machine, and kills both when the test ends. Booting takes a
// few seconds.
func RabbitMQ(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(RabbitMQServer); err != nil {
		t.Fatalf("standin: %s is missing: install Debian's rabbitmq-server (apt-get install -y rabbitmq-server; .ci/run does)", RabbitMQServer)
	}
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		t.Fatal("standin: epmd (Erlang) is not on PATH: install Debian's rabbitmq-server")
	}
	dir := t.TempDir()
	amqpPort, distPort, epmdPort := FreePort(t), FreePort(t), FreePort(t)
	for _, d := range []string{"mnesia", "log", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plugins := filepath.Join(dir, "enabled_plugins")
	if err := os.WriteFile(plugins, []byte("[].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_NODENAME=eddy"+strconv.Itoa(amqpPort)+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
	)
	// epmd first, in the foreground as our child: the server would otherwise start one as a
	// daemon that outlives the test.
	ep := exec.Command(epmd, "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	ep.Env = env
	start(t, "epmd", ep, listening(epmdPort))
	srv := exec.Command(RabbitMQServer)
	srv.Env = env
	srv.Dir = dir
	// The server takes 5–20 s to open its AMQP port on a loaded machine.
	start(t, "rabbitmq-server", srv, listening(amqpPort))
	return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", amqpPort)
}

func listening(port int) func() bool {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}
