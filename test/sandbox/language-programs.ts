/**
 * The same programs in every language beyond Python and JavaScript (C, C++, Go, Java, Bash), for
 * the compiled-languages and attack suites: what each must do is described once here, and each
 * language says it in its own words.
 */
import type { Language, Limits } from '../../src/domain/evaluation';
import { createLanguageRegistry } from '../../src/sandbox/languages';

export const NEW_LANGUAGES = ['c', 'cpp', 'go', 'java', 'bash'] as const;
export type NewLanguage = (typeof NEW_LANGUAGES)[number];
export const COMPILED_LANGUAGES = ['c', 'cpp', 'go', 'java'] as const;

const registry = createLanguageRegistry();

/** The language's default limits (the JVM's are larger), as a submission without limits gets them. */
export function defaultLimitsOf(language: Language): Limits {
  return registry[language].defaultLimits;
}

export interface LanguagePrograms {
  /** Reads two integers from stdin, prints their sum. */
  sum: string;
  /** Prints to stdout and stderr, exits with code 3. */
  exit3: string;
  /** Loops forever without output. */
  spin: string;
  /** Allocates and touches memory without end. */
  memoryBomb: string;
  /** Writes to stdout without end. */
  outputFlood: string;
  /** Starts processes without end, ignoring failures. */
  forkBomb: string;
  /**
   * Reads `host port` lines from stdin and prints `host:port connected` or `host:port failed` for
   * each TCP connection attempt (1.5 s timeout).
   */
  connect: string;
  /**
   * Prints `env NAME` for every environment variable, then reads file paths from stdin, one a
   * line, and prints `path ok <its first 200 bytes, newlines as spaces>` or `path denied`.
   */
  snoop: string;
}

export const PROGRAMS: Record<NewLanguage, LanguagePrograms> = {
  c: {
    sum: '#include <stdio.h>\nint main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; printf("%ld\\n", a + b); return 0; }\n',
    exit3: '#include <stdio.h>\nint main(void) { printf("partial\\n"); fprintf(stderr, "bad\\n"); return 3; }\n',
    spin: 'int main(void) { volatile unsigned long n = 0; for (;;) n++; }\n',
    memoryBomb:
      '#include <stdlib.h>\n#include <string.h>\nint main(void) { for (;;) { char *p = malloc(1 << 20); if (!p) return 2; memset(p, 1, 1 << 20); } }\n',
    outputFlood:
      '#include <stdio.h>\n#include <string.h>\nint main(void) { static char b[1 << 20]; memset(b, 120, sizeof b); for (int i = 0; i < 1024; i++) fwrite(b, 1, sizeof b, stdout); return 0; }\n',
    forkBomb: '#include <unistd.h>\nint main(void) { for (;;) fork(); }\n',
    connect: `#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void) {
  char host[64]; int port;
  while (scanf("%63s %d", host, &port) == 2) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a; memset(&a, 0, sizeof a); a.sin_family = AF_INET; a.sin_port = htons(port);
    inet_pton(AF_INET, host, &a.sin_addr);
    fcntl(s, F_SETFL, O_NONBLOCK);
    int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (!ok && errno == EINPROGRESS) {
      struct pollfd p = { s, POLLOUT, 0 };
      int e = 0; socklen_t l = sizeof e;
      ok = poll(&p, 1, 1500) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0;
    }
    printf("%s:%d %s\\n", host, port, ok ? "connected" : "failed");
    close(s);
  }
  return 0;
}
`,
    snoop: `#include <stdio.h>
#include <string.h>
extern char **environ;
int main(void) {
  for (char **e = environ; *e; e++) { char name[256]; size_t n = strcspn(*e, "="); if (n > 255) n = 255; memcpy(name, *e, n); name[n] = 0; printf("env %s\\n", name); }
  char path[4096];
  while (fgets(path, sizeof path, stdin)) {
    path[strcspn(path, "\\n")] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { printf("%s denied\\n", path); continue; }
    char buf[201]; size_t n = fread(buf, 1, 200, f); fclose(f);
    for (size_t i = 0; i < n; i++) if (buf[i] == '\\n' || buf[i] == 0) buf[i] = ' ';
    buf[n] = 0;
    printf("%s ok %s\\n", path, buf);
  }
  return 0;
}
`,
  },
  cpp: {
    sum: '#include <iostream>\nint main() { long a, b; if (!(std::cin >> a >> b)) return 1; std::cout << a + b << "\\n"; }\n',
    exit3: '#include <iostream>\nint main() { std::cout << "partial" << std::endl; std::cerr << "bad" << std::endl; return 3; }\n',
    spin: 'int main() { volatile unsigned long n = 0; for (;;) n++; }\n',
    memoryBomb:
      '#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v; for (;;) { char *p = new char[1 << 20]; std::memset(p, 1, 1 << 20); v.push_back(p); } }\n',
    outputFlood:
      "#include <iostream>\n#include <string>\nint main() { std::string b(1 << 20, 'x'); for (int i = 0; i < 1024; i++) std::cout << b; }\n",
    forkBomb: '#include <unistd.h>\nint main() { for (;;) fork(); }\n',
    connect: `#include <cstdio>
#include <cstring>
#include <cerrno>
#include <iostream>
#include <string>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main() {
  std::string host; int port;
  while (std::cin >> host >> port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    fcntl(s, F_SETFL, O_NONBLOCK);
    bool ok = connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    if (!ok && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0}; int e = 0; socklen_t l = sizeof e;
      ok = poll(&p, 1, 1500) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0;
    }
    std::cout << host << ":" << port << (ok ? " connected" : " failed") << std::endl;
    close(s);
  }
}
`,
    snoop: `#include <fstream>
#include <iostream>
#include <string>
extern char **environ;
int main() {
  for (char **e = environ; *e; e++) { std::string v(*e); std::cout << "env " << v.substr(0, v.find('=')) << "\\n"; }
  std::string path;
  while (std::getline(std::cin, path)) {
    std::ifstream f(path, std::ios::binary);
    if (!f) { std::cout << path << " denied\\n"; continue; }
    std::string buf(200, '\\0'); f.read(&buf[0], 200); buf.resize(f.gcount());
    for (char &c : buf) if (c == '\\n' || c == '\\0') c = ' ';
    std::cout << path << " ok " << buf << "\\n";
  }
}
`,
  },
  go: {
    sum: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar a, b int64\n\tif _, err := fmt.Scan(&a, &b); err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(a + b)\n}\n',
    exit3:
      'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Println("partial")\n\tfmt.Fprintln(os.Stderr, "bad")\n\tos.Exit(3)\n}\n',
    spin: 'package main\n\nfunc main() {\n\tn := 0\n\tfor {\n\t\tn++\n\t}\n}\n',
    memoryBomb:
      'package main\n\nfunc main() {\n\tvar keep [][]byte\n\tfor {\n\t\tb := make([]byte, 1<<20)\n\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n',
    outputFlood:
      'package main\n\nimport (\n\t"bytes"\n\t"os"\n)\n\nfunc main() {\n\tb := bytes.Repeat([]byte("x"), 1<<20)\n\tfor i := 0; i < 1024; i++ {\n\t\tos.Stdout.Write(b)\n\t}\n}\n',
    // Go cannot fork(); every copy starts two more of itself, forever.
    forkBomb: 'package main\n\nimport "os/exec"\n\nfunc main() {\n\tfor {\n\t\t_ = exec.Command("/proc/self/exe").Start()\n\t}\n}\n',
    connect: `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) != 2 {
			continue
		}
		address := net.JoinHostPort(fields[0], fields[1])
		conn, err := net.DialTimeout("tcp", address, 1500*time.Millisecond)
		if err == nil {
			conn.Close()
			fmt.Println(fields[0]+":"+fields[1], "connected")
		} else {
			fmt.Println(fields[0]+":"+fields[1], "failed")
		}
	}
}
`,
    snoop: `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	for _, entry := range os.Environ() {
		fmt.Println("env", strings.SplitN(entry, "=", 2)[0])
	}
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		path := scanner.Text()
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Println(path, "denied")
			continue
		}
		if len(data) > 200 {
			data = data[:200]
		}
		text := strings.NewReplacer("\\n", " ", "\\x00", " ").Replace(string(data))
		fmt.Println(path, "ok", text)
	}
}
`,
  },
  java: {
    sum: 'import java.util.Scanner;\n\npublic class Main {\n  public static void main(String[] args) {\n    Scanner in = new Scanner(System.in);\n    long a = in.nextLong(), b = in.nextLong();\n    System.out.println(a + b);\n  }\n}\n',
    exit3:
      'public class Main {\n  public static void main(String[] args) {\n    System.out.println("partial");\n    System.err.println("bad");\n    System.exit(3);\n  }\n}\n',
    spin: 'public class Main {\n  static volatile long n;\n  public static void main(String[] args) {\n    for (;;) n++;\n  }\n}\n',
    memoryBomb:
      'import java.util.ArrayList;\n\npublic class Main {\n  public static void main(String[] args) {\n    ArrayList<byte[]> keep = new ArrayList<>();\n    for (;;) {\n      byte[] b = new byte[1 << 20];\n      java.util.Arrays.fill(b, (byte) 1);\n      keep.add(b);\n    }\n  }\n}\n',
    outputFlood:
      'public class Main {\n  public static void main(String[] args) throws Exception {\n    byte[] b = new byte[1 << 20];\n    java.util.Arrays.fill(b, (byte) 120);\n    for (int i = 0; i < 1024; i++) System.out.write(b);\n    System.out.flush();\n  }\n}\n',
    forkBomb:
      'public class Main {\n  public static void main(String[] args) {\n    for (;;) {\n      try {\n        new ProcessBuilder("/bin/sh", "-c", "while :; do :; done").start();\n      } catch (Throwable t) {\n      }\n    }\n  }\n}\n',
    connect: `import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;

public class Main {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null; ) {
      String[] parts = line.trim().split("\\\\s+");
      if (parts.length != 2) continue;
      String outcome;
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(parts[0], Integer.parseInt(parts[1])), 1500);
        outcome = "connected";
      } catch (Exception e) {
        outcome = "failed";
      }
      System.out.println(parts[0] + ":" + parts[1] + " " + outcome);
    }
  }
}
`,
    snoop: `import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;

public class Main {
  public static void main(String[] args) throws Exception {
    for (String name : System.getenv().keySet()) System.out.println("env " + name);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String path; (path = in.readLine()) != null; ) {
      try {
        byte[] data = Files.readAllBytes(Paths.get(path));
        String text = new String(Arrays.copyOf(data, Math.min(200, data.length)), "ISO-8859-1").replace('\\n', ' ').replace('\\0', ' ');
        System.out.println(path + " ok " + text);
      } catch (Exception e) {
        System.out.println(path + " denied");
      }
    }
  }
}
`,
  },
  bash: {
    sum: 'read -r a b\necho $((a + b))\n',
    exit3: 'echo partial\necho bad >&2\nexit 3\n',
    spin: 'while :; do :; done\n',
    memoryBomb: 'a=xxxxxxxxxxxxxxxx\nwhile :; do a="$a$a"; done\n',
    outputFlood: 'head -c 1073741824 /dev/zero | tr "\\0" x\n',
    forkBomb: 'bomb() { bomb | bomb & }\nbomb\nwait\n',
    connect:
      'while read -r host port; do\n  if timeout 1.5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then\n    echo "$host:$port connected"\n  else\n    echo "$host:$port failed"\n  fi\ndone\n',
    snoop:
      'for name in $(compgen -e); do echo "env $name"; done\nwhile IFS= read -r path; do\n  if content=$(head -c 200 "$path" 2>/dev/null | tr "\\n\\0" "  "); [ "${PIPESTATUS[0]}" = 0 ] && [ -r "$path" ]; then\n    echo "$path ok $content"\n  else\n    echo "$path denied"\n  fi\ndone\n',
  },
};

/** A compile error the compiler names, and the text its message must contain. */
export const COMPILE_ERRORS: Record<(typeof COMPILED_LANGUAGES)[number], { code: string; message: RegExp }> = {
  c: { code: 'int main(void) { return undefined_name; }\n', message: /.undefined_name. undeclared/ },
  cpp: { code: 'int main() { return undefined_name; }\n', message: /.undefined_name. was not declared/ },
  go: { code: 'package main\n\nfunc main() {\n\treturn undefinedName\n}\n', message: /undefined: undefinedName|too many return values/ },
  java: { code: 'public class Main {\n  public static void main(String[] args) { int x = "text"; }\n}\n', message: /incompatible types/ },
};
