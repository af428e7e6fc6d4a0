"""What each seed key feature means, and what each related item is.

Plain data with no Django imports, like seed.py, and kept apart from it so seed.py
stays the word-for-word transcription of the seed file. A key feature's detail is
keyed by (topic slug, feature text exactly as in the seed); a related item's by its
name. The loader copies them into rows it creates; migration 0005 fills them into
existing rows whose field is still empty, so an instructor's text is never replaced.
"""

from __future__ import annotations

FEATURE_DETAILS: dict[tuple[str, str], str] = {
    # Load Balancing
    ("load-balancing", "Round-robin distribution"): (
        "The balancer hands each new request to the next server in a fixed rotation, so with equal "
        "servers and similar requests each gets an equal share. Weighted round-robin gives a bigger "
        "server proportionally more turns; plain rotation ignores how busy a server already is."
    ),
    ("load-balancing", "Least connections algorithm"): (
        "Each new request goes to the server with the fewest connections open right now (nginx's "
        "least_conn, HAProxy's leastconn). It adapts when some requests are slow, such as long "
        "downloads or WebSockets, where round-robin would keep feeding a server that is still busy."
    ),
    ("load-balancing", "IP hash for session affinity"): (
        "The balancer hashes the client's address to pick a server, so the same client keeps reaching "
        "the same server while the pool is unchanged (nginx's ip_hash uses the first three octets of "
        "an IPv4 address). That keeps in-memory sessions working, at the cost of uneven load when many "
        "clients share one address behind a NAT."
    ),
    ("load-balancing", "Health checks with failover"): (
        "The balancer probes each server, or watches its real responses, and stops sending traffic to "
        "one that fails; it returns to the pool once it passes again. Requests fail over to the "
        "healthy servers, so one crashed machine costs a few retries, not an outage."
    ),
    # Reverse Proxy
    ("reverse-proxy", "Request routing and forwarding"): (
        "Clients talk to one address; the proxy reads each request's host, path or headers and "
        "forwards it to the right backend, then relays the answer. Backends can move, split or scale "
        "without clients noticing, and the proxy adds headers such as X-Forwarded-For so they still "
        "know who asked."
    ),
    ("reverse-proxy", "SSL/TLS termination"): (
        "The proxy holds the certificate and does the TLS handshake and encryption, then talks to the "
        "backends over plain HTTP on a trusted network (or re-encrypts). Certificates live in one "
        "place, and backends spend no CPU on cryptography."
    ),
    ("reverse-proxy", "Response caching"): (
        "The proxy keeps copies of responses that HTTP's Cache-Control rules allow it to store and "
        "answers repeat requests itself until they expire. Backends see far fewer requests, and cached "
        "answers come back faster."
    ),
    ("reverse-proxy", "Rate limiting and security"): (
        "Every request passes one point, so that is where to cap requests per client (nginx's "
        "limit_req is a leaky bucket), block bad addresses, filter malformed requests or run a web "
        "application firewall. Abusive traffic is refused before it costs the backends anything."
    ),
    # CDN
    ("cdn", "Geographic distribution"): (
        "The CDN runs edge servers in many cities and sends each user to a nearby one, by DNS answers "
        "or anycast routing. A shorter path means fewer milliseconds per round trip, which adds up "
        "over a TCP and TLS handshake and every request after it."
    ),
    ("cdn", "Static asset caching"): (
        "Images, scripts, stylesheets and video segments are the same for everyone, so an edge keeps "
        "a copy for as long as their Cache-Control headers allow and serves it without asking the "
        "origin. Files named by a hash of their content can be cached for a year and never go stale."
    ),
    ("cdn", "DDoS protection"): (
        "A flood of traffic is spread over the CDN's whole network, which has far more capacity than "
        "one origin, and the edges filter it before it travels further. Only requests the edge cannot "
        "answer from its cache reach your servers."
    ),
    ("cdn", "Origin shield for protection"): (
        "An extra cache tier between the edges and the origin: edges that miss ask the shield, not "
        "the origin. Many edges missing the same file at once cost the origin one request instead of "
        "one per edge."
    ),
    # Threads & Processes
    ("threads-processes", "Parallel execution capability"): (
        "On a machine with several cores, the operating system can run several threads or processes "
        "at the same instant, one per core. On one core they only take turns through context switches, "
        "which is concurrency without parallelism."
    ),
    ("threads-processes", "Shared memory between threads"): (
        "Threads of one process share its address space: heap, globals and open files. Passing data "
        "is as cheap as passing a pointer, but two threads writing the same memory without "
        "synchronisation is a data race."
    ),
    ("threads-processes", "Inter-process communication (IPC)"): (
        "Processes have separate memory, so they exchange data through channels the kernel provides: "
        "pipes, Unix domain sockets, message queues, signals, or a shared-memory segment both map on "
        "purpose. Each costs a copy or a system call that threads sharing memory avoid."
    ),
    ("threads-processes", "Process isolation for security"): (
        "Each process has its own virtual address space, so a crash or a bug in one cannot overwrite "
        "another's memory, and the operating system can give each different permissions. Browsers run "
        "each site in its own sandboxed process for exactly this reason."
    ),
    # Locks & Synchronization
    ("locks-synchronization", "Mutexes for exclusive access"): (
        "A mutex lets one thread at a time into a critical section; others that try to lock it wait, "
        "usually asleep, until the holder unlocks. Only the thread that locked it may unlock it."
    ),
    ("locks-synchronization", "Read-write locks for optimization"): (
        "Many readers may hold the lock together, but a writer needs it alone. Data that is read far "
        "more often than it is written gets parallel reads; the lock's policy decides whether waiting "
        "writers go before new readers, so writers are not starved."
    ),
    ("locks-synchronization", "Spinlocks for short waits"): (
        "A thread that finds the lock taken keeps retrying in a loop instead of sleeping. That avoids "
        "the cost of sleeping and waking when the holder will finish within microseconds, and wastes "
        "a whole core when it will not; kernels use them where sleeping is not allowed."
    ),
    ("locks-synchronization", "Atomic operations for primitives"): (
        "The CPU performs a read-modify-write such as fetch-and-add or compare-and-swap as one "
        "indivisible step that no other core can interleave with. Locks themselves are built on them, "
        "and a shared counter needs nothing more."
    ),
    # Race Conditions
    ("race-conditions", "Detection through testing"): (
        "A race shows up only under some interleavings, so a test runs the code many times with many "
        "threads, or with a scheduler that forces different orders, and checks an invariant such as "
        "the final count. A pass proves little; a failure proves the race."
    ),
    ("race-conditions", "Prevention with locks"): (
        "Put every access to the shared data, reads included, inside a critical section guarded by "
        "the same lock. The read-modify-write then cannot interleave with another thread's, so no "
        "update is lost."
    ),
    ("race-conditions", "Race detection tools"): (
        "Tools such as ThreadSanitizer, Helgrind and Go's -race flag watch every memory access while "
        "the program runs and report two accesses from different threads, at least one a write, with "
        "no happens-before order between them, even when the run happened to give the right answer."
    ),
    ("race-conditions", "Debugging with sanitizers"): (
        "A sanitizer is compiled into the program (clang or gcc -fsanitize=thread) and reports each "
        "race with the stack traces of both accesses, which turns a rare wrong answer into a readable "
        "report. The program runs several times slower and uses more memory, so it is for test builds."
    ),
    # CAP Theorem
    ("cap-theorem", "CP systems prioritize consistency"): (
        "During a network partition, a CP system refuses or delays requests on the side that cannot "
        "reach a majority, rather than answer with data that may be stale. ZooKeeper and etcd behave "
        "this way."
    ),
    ("cap-theorem", "AP systems prioritize availability"): (
        "During a partition, an AP system keeps answering on every side, even though replicas can "
        "then disagree; they reconcile once the network heals. Cassandra and DynamoDB-style stores "
        "can be run this way."
    ),
    ("cap-theorem", "Eventual consistency models"): (
        "If writes stop, every replica eventually holds the same value, but reads in the meantime may "
        "return old data. It is what AP systems can promise during a partition."
    ),
    ("cap-theorem", "Strong consistency guarantees"): (
        "Every read returns the most recent completed write, as if there were one copy of the data "
        "(linearizability, the theorem's C). Keeping that promise through a partition means some "
        "requests must wait or fail."
    ),
    # Consensus Algorithms
    ("consensus-algorithms", "Fault tolerance guarantees"): (
        "A cluster of 2f + 1 servers keeps working while any f of them are down or cut off: a "
        "majority of 3 survives 1 failure, of 5 survives 2. Classic Raft and Paxos assume servers "
        "crash and stop; they do not tolerate servers that lie (Byzantine faults)."
    ),
    ("consensus-algorithms", "Replicated state machines"): (
        "Every server applies the same commands in the same order to the same starting state, so all "
        "end in the same state. Consensus decides that order: a replicated log that the servers agree "
        "on entry by entry."
    ),
    ("consensus-algorithms", "Ordering guarantees"): (
        "Once an entry is committed at an index of the log, no server ever applies a different entry "
        "at that index. Every replica applies the same commands in the same total order."
    ),
    ("consensus-algorithms", "Split-brain prevention"): (
        "A leader needs votes from a majority, and two majorities of the same cluster always share a "
        "server, so two leaders cannot be elected in the same term. A leader cut off in a minority "
        "cannot commit anything, because it cannot reach a majority."
    ),
    # Consistency Models
    ("consistency-models", "Ordering guarantees"): (
        "A consistency model says in which orders clients may observe writes: one total order that "
        "respects real time (linearizable), one total order that respects each client's program "
        "order (sequential), only cause-before-effect (causal), or no order until replicas converge "
        "(eventual)."
    ),
    ("consistency-models", "Latency trade-offs"): (
        "Stronger models need replicas to coordinate before answering, which costs round trips, often "
        "across regions; weaker ones can answer from the nearest replica at once. Tunable stores let "
        "you choose per request, for example by how many replicas a read must hear from."
    ),
    ("consistency-models", "Conflict resolution strategies"): (
        "When replicas accept concurrent writes to the same key, they must agree afterwards on one "
        "outcome: last-writer-wins by timestamp, keeping every sibling version for the application to "
        "merge, or data types (CRDTs) whose merge is built in."
    ),
    ("consistency-models", "Causality preservation"): (
        "If one write could have influenced another (the writer had read it first), every replica "
        "shows them in that order, so no one sees a reply before the message it answers. Systems "
        "track this with vector clocks or similar version vectors."
    ),
    # TCP/IP Model
    ("tcp-ip-model", "Connection-oriented communication"): (
        "Before any data flows, TCP's three-way handshake (SYN, SYN-ACK, ACK) sets up a connection "
        "and synchronises both sides' sequence numbers; FIN segments close it. IP and UDP below and "
        "beside it send each packet on its own, with no connection."
    ),
    ("tcp-ip-model", "Error checking and correction"): (
        "Every segment carries a checksum over its header, its data and the IP addresses. The "
        "receiver discards a segment that fails it and does not acknowledge it, so the sender's timer "
        "or duplicate ACKs make it retransmit: the corruption is corrected by sending the data again, "
        "not by repairing the damaged copy (RFC 9293, sections 3.1 and 3.10)."
    ),
    ("tcp-ip-model", "Packet ordering guarantees"): (
        "TCP numbers every byte. The receiver holds segments that arrive early and hands the "
        "application the bytes strictly in sequence-number order, with no gaps or duplicates, however "
        "IP delivered the packets."
    ),
    ("tcp-ip-model", "Congestion control mechanisms"): (
        "The sender limits unacknowledged data to a congestion window (cwnd) that grows fast in slow "
        "start, slowly above the ssthresh threshold, and shrinks when loss signals a congested network "
        "(RFC 5681). It keeps many connections from overloading the links they share."
    ),
    # HTTP/HTTPS
    ("http-https", "Request/response headers"): (
        "Every request and response carries named header fields beside its body: Host, "
        "Content-Type, Accept, Cache-Control, Authorization and more. They describe the content and "
        "tell clients, caches and servers how to handle it."
    ),
    ("http-https", "Status codes (200, 404, 500, etc.)"): (
        "Every response starts with a three-digit code whose first digit gives its class: 2xx "
        "success, 3xx redirection, 4xx a client error such as 404 Not Found, 5xx a server error such "
        "as 500. Clients and caches act on the code without reading the body."
    ),
    ("http-https", "Cookies for state management"): (
        "HTTP itself remembers nothing between requests. A server's Set-Cookie header asks the browser "
        "to store a small value and send it back in a Cookie header on later requests to that site, "
        "which is how sign-ins and shopping carts persist."
    ),
    ("http-https", "HTTP/2 multiplexing and HTTP/3 QUIC"): (
        "HTTP/2 carries many requests at once as interleaved streams over one TCP connection, instead "
        "of one at a time. HTTP/3 runs those streams over QUIC on UDP, so a lost packet delays only "
        "its own stream, not every stream behind it as on TCP."
    ),
    # DNS
    ("dns", "A/AAAA records for IP addresses"): (
        "An A record maps a name to an IPv4 address, an AAAA record to an IPv6 address; a name may "
        "have several of each. They are what a browser ultimately needs before it can connect."
    ),
    ("dns", "CNAME for aliasing"): (
        "A CNAME record says a name is an alias for another name, and the resolver continues the "
        "lookup at that canonical name: www.example.com can point at a CDN's hostname. A name with a "
        "CNAME can hold no other records, so the bare domain apex cannot be one."
    ),
    ("dns", "MX records for email routing"): (
        "MX records name the mail servers that accept email for a domain, each with a preference "
        "number; sending servers try the lowest number first and fall back to the others."
    ),
    ("dns", "TTL-based caching strategy"): (
        "Every record carries a time to live in seconds, and resolvers may cache it that long before "
        "asking again. A long TTL means fewer lookups and faster answers; a short one means a change "
        "reaches everyone sooner."
    ),
    # WebSockets
    ("websockets", "Bidirectional messaging"): (
        "After the opening handshake, client and server can each send a message whenever they like, "
        "over the same TCP connection, without the other asking first (full duplex)."
    ),
    ("websockets", "Event-driven architecture"): (
        "Code reacts to events as they arrive (open, message, error, close) instead of asking for "
        "updates: the server pushes a message when something happens and the client's handler runs."
    ),
    ("websockets", "Lower overhead than polling"): (
        "Once open, each message costs a frame header of 2 to 14 bytes, against a whole HTTP request "
        "with its headers for every poll. The server sends only when there is news, so nothing is "
        "spent on empty answers and updates arrive without waiting for the next poll."
    ),
    ("websockets", "Heartbeat for connection health"): (
        "Either side can send a Ping control frame, and the other must answer with a Pong. Regular "
        "pings keep idle connections open through proxies and NATs, and a missing pong shows that the "
        "peer or the network has gone, so the connection can be closed and reopened."
    ),
}

RELATED_ITEMS: dict[str, dict[str, str]] = {
    "Nginx": {
        "url": "https://nginx.org/",
        "description": (
            "An open-source web server, reverse proxy and load balancer, built around an event-driven "
            "architecture that lets a few worker processes hold many thousands of connections."
        ),
    },
    "HAProxy": {
        "url": "https://www.haproxy.org/",
        "description": (
            "An open-source load balancer and proxy for TCP and HTTP, known for its speed, its health "
            "checks and its many balancing algorithms (roundrobin, leastconn, source and others)."
        ),
    },
    "AWS ELB": {
        "url": "https://aws.amazon.com/elasticloadbalancing/",
        "description": (
            "Amazon Web Services' managed load balancing: Application Load Balancers route HTTP by "
            "host and path, Network Load Balancers forward TCP and UDP, and AWS runs and scales them."
        ),
    },
    "Traefik": {
        "url": "https://traefik.io/traefik/",
        "description": (
            "An open-source reverse proxy and load balancer that configures itself from Docker, "
            "Kubernetes and other providers, adding routes as containers start and stop."
        ),
    },
    "Envoy": {
        "url": "https://www.envoyproxy.io/",
        "description": (
            "An open-source proxy for service-to-service traffic, created at Lyft and now a CNCF "
            "project; it is the data plane of service meshes such as Istio, and its configuration "
            "can be changed at runtime through an API."
        ),
    },
    "CloudFront": {
        "url": "https://aws.amazon.com/cloudfront/",
        "description": (
            "Amazon Web Services' content delivery network, which caches content from S3 buckets, "
            "load balancers or any HTTP origin at edge locations around the world."
        ),
    },
    "Cloudflare": {
        "url": "https://www.cloudflare.com/",
        "description": (
            "A global network that sits in front of websites as a CDN, DNS provider and reverse "
            "proxy, adding DDoS mitigation and a web application firewall."
        ),
    },
    "Fastly": {
        "url": "https://www.fastly.com/",
        "description": (
            "An edge cloud platform: a CDN built on Varnish, known for purging cached content within "
            "seconds and for running customers' code at the edge."
        ),
    },
    "Akamai": {
        "url": "https://www.akamai.com/",
        "description": (
            "One of the first and largest content delivery networks, founded in 1998, with servers "
            "inside thousands of networks worldwide; it also sells security and cloud services."
        ),
    },
    "Raft": {
        "url": "https://raft.github.io/",
        "description": (
            "A consensus algorithm designed to be understandable (Ongaro and Ousterhout, 2014): a "
            "leader elected by majority vote replicates a log of commands to its followers. etcd and "
            "Consul use it."
        ),
    },
    "Paxos": {
        "url": "",
        "description": (
            "Leslie Lamport's consensus algorithm (1989, published 1998): proposers and acceptors "
            "agree on a value through numbered proposals that need a majority of acceptors. "
            "Multi-Paxos repeats it to agree on a log; Google's Chubby lock service builds on it."
        ),
    },
    "ZAB": {
        "url": "",
        "description": (
            "ZooKeeper Atomic Broadcast, the protocol ZooKeeper uses: a leader broadcasts state "
            "changes in order to its followers, and after a crash a new leader is elected and first "
            "brings the followers up to date."
        ),
    },
    "Viewstamped Replication": {
        "url": "",
        "description": (
            "A replication protocol by Oki and Liskov (1988), revised by Liskov and Cowling in 2012, "
            "that solves the same problem as Paxos: a primary orders requests, and a view change "
            "replaces a failed primary. Raft's design is close to it."
        ),
    },
    "Strong": {
        "url": "",
        "description": (
            "Strong consistency (linearizability): the system behaves as if there were a single "
            "copy of the data, and each operation takes effect at one instant between its call and "
            "its return, so every read sees the latest completed write."
        ),
    },
    "Eventual": {
        "url": "",
        "description": (
            "Eventual consistency: if writes stop, all replicas converge to the same value, but a "
            "read in the meantime may return stale data."
        ),
    },
    "Causal": {
        "url": "",
        "description": (
            "Causal consistency: writes that are causally related are seen by everyone in the same "
            "order, while writes with no causal link may appear in different orders on different "
            "replicas."
        ),
    },
    "Sequential": {
        "url": "",
        "description": (
            "Sequential consistency (Lamport, 1979): all processes see every operation in one total "
            "order that keeps each process's own operations in program order, though not "
            "necessarily in real-time order."
        ),
    },
}


def feature_detail(topic_slug: str, text: str) -> str:
    return FEATURE_DETAILS.get((topic_slug, text), "")


def related_item(name: str) -> dict[str, str]:
    return RELATED_ITEMS.get(name, {"url": "", "description": ""})
