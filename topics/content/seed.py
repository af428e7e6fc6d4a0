"""The seed content, transcribed word for word from systems-networking-topics.txt.

Plain data with no Django imports, so the loader can run from a data migration
as well as from `manage.py load_content`. Order matters: categories, topics,
features, use cases and related items are shown in the order they appear here,
which is the seed's order.

The seed runs related names together with no separator
("NginxHAProxyAWS ELBTraefik"); here they are separate names. Each topic's
"How it works" body is Markdown in bodies/<topic slug>.md.
"""

from __future__ import annotations

from pathlib import Path

TECHNOLOGY = "technology"  # listed under "Related Technologies"
CONCEPT = "concept"  # listed under "Related Concepts"

BODIES_DIR = Path(__file__).resolve().parent / "bodies"

CATEGORIES: list[dict] = [
    {
        "name": "Load Balancing & Scaling",
        "slug": "load-balancing-scaling",
        "icon": "balance",
        "blurb": (
            "How busy sites spread requests over many servers, keep copies of content "
            "close to their users, and keep answering when one machine fails."
        ),
        "topics": [
            {
                "title": "Load Balancing",
                "slug": "load-balancing",
                "summary": (
                    "Traffic distribution across multiple servers for high availability "
                    "and horizontal scaling capabilities."
                ),
                "key_features": [
                    "Round-robin distribution",
                    "Least connections algorithm",
                    "IP hash for session affinity",
                    "Health checks with failover",
                ],
                "use_cases": [
                    "Web server farms",
                    "API gateway distribution",
                    "Database read replica balancing",
                    "Microservices routing",
                ],
                "related": [
                    ("Nginx", TECHNOLOGY),
                    ("HAProxy", TECHNOLOGY),
                    ("AWS ELB", TECHNOLOGY),
                    ("Traefik", TECHNOLOGY),
                ],
            },
            {
                "title": "Reverse Proxy",
                "slug": "reverse-proxy",
                "summary": (
                    "Intermediary server providing SSL termination, caching, compression, "
                    "and request routing capabilities."
                ),
                "key_features": [
                    "Request routing and forwarding",
                    "SSL/TLS termination",
                    "Response caching",
                    "Rate limiting and security",
                ],
                "use_cases": [
                    "Nginx as reverse proxy",
                    "HAProxy for load balancing",
                    "Traefik for container routing",
                    "Envoy for service mesh",
                ],
                "related": [
                    ("Nginx", TECHNOLOGY),
                    ("HAProxy", TECHNOLOGY),
                    ("Traefik", TECHNOLOGY),
                    ("Envoy", TECHNOLOGY),
                ],
            },
            {
                "title": "CDN (Content Delivery Network)",
                "slug": "cdn",
                "summary": (
                    "Distributed caching network with edge locations for reduced latency "
                    "and improved content delivery."
                ),
                "key_features": [
                    "Geographic distribution",
                    "Static asset caching",
                    "DDoS protection",
                    "Origin shield for protection",
                ],
                "use_cases": [
                    "CloudFront for AWS",
                    "Cloudflare global CDN",
                    "Fastly edge cloud",
                    "Akamai content delivery",
                ],
                "related": [
                    ("CloudFront", TECHNOLOGY),
                    ("Cloudflare", TECHNOLOGY),
                    ("Fastly", TECHNOLOGY),
                    ("Akamai", TECHNOLOGY),
                ],
            },
        ],
    },
    {
        "name": "Concurrency Fundamentals",
        "slug": "concurrency-fundamentals",
        "icon": "sync",
        "blurb": (
            "Doing several things at once on one machine: threads and processes, the "
            "locks that keep shared data consistent, and the bugs that appear without them."
        ),
        "topics": [
            {
                "title": "Threads & Processes",
                "slug": "threads-processes",
                "summary": (
                    "Concurrency primitives enabling parallel execution through context "
                    "switching and scheduling mechanisms."
                ),
                "key_features": [
                    "Parallel execution capability",
                    "Shared memory between threads",
                    "Inter-process communication (IPC)",
                    "Process isolation for security",
                ],
                "use_cases": [
                    "Multi-threaded web servers",
                    "Background worker processes",
                    "Parallel data processing",
                    "Asynchronous task execution",
                ],
                "related": [],
            },
            {
                "title": "Locks & Synchronization",
                "slug": "locks-synchronization",
                "summary": (
                    "Mechanisms for mutual exclusion preventing race conditions through "
                    "various locking strategies."
                ),
                "key_features": [
                    "Mutexes for exclusive access",
                    "Read-write locks for optimization",
                    "Spinlocks for short waits",
                    "Atomic operations for primitives",
                ],
                "use_cases": [
                    "Shared resource protection",
                    "Counter updates",
                    "Cache consistency",
                    "Database connection pools",
                ],
                "related": [],
            },
            {
                "title": "Race Conditions",
                "slug": "race-conditions",
                "summary": (
                    "Concurrent access issues where timing affects correctness, requiring "
                    "thread safety and critical section protection."
                ),
                "key_features": [
                    "Detection through testing",
                    "Prevention with locks",
                    "Race detection tools",
                    "Debugging with sanitizers",
                ],
                "use_cases": [
                    "Counter increment race",
                    "Check-then-act patterns",
                    "Double-checked locking",
                    "File access conflicts",
                ],
                "related": [],
            },
        ],
    },
    {
        "name": "Distributed Systems",
        "slug": "distributed-systems",
        "icon": "scatter_plot",
        "blurb": (
            "Many machines acting as one system: what they can promise when the network "
            "splits, how they agree on anything, and what a read is allowed to return."
        ),
        "topics": [
            {
                "title": "CAP Theorem",
                "slug": "cap-theorem",
                "summary": (
                    "Fundamental theorem describing trade-offs between Consistency, "
                    "Availability, and Partition tolerance in distributed systems."
                ),
                "key_features": [
                    "CP systems prioritize consistency",
                    "AP systems prioritize availability",
                    "Eventual consistency models",
                    "Strong consistency guarantees",
                ],
                "use_cases": [
                    "Database architecture choices",
                    "Distributed cache design",
                    "Microservice data patterns",
                    "Consensus algorithm selection",
                ],
                "related": [],
            },
            {
                "title": "Consensus Algorithms",
                "slug": "consensus-algorithms",
                "summary": (
                    "Algorithms for achieving agreement in distributed systems, including "
                    "Raft, Paxos, and leader election mechanisms."
                ),
                "key_features": [
                    "Fault tolerance guarantees",
                    "Replicated state machines",
                    "Ordering guarantees",
                    "Split-brain prevention",
                ],
                "use_cases": [
                    "etcd for Kubernetes",
                    "Consul for service discovery",
                    "ZooKeeper coordination",
                    "Distributed database replication",
                ],
                "related": [
                    ("Raft", CONCEPT),
                    ("Paxos", CONCEPT),
                    ("ZAB", CONCEPT),
                    ("Viewstamped Replication", CONCEPT),
                ],
            },
            {
                "title": "Consistency Models",
                "slug": "consistency-models",
                "summary": (
                    "Models defining read/write guarantees ranging from eventual to strong "
                    "consistency with various trade-offs."
                ),
                "key_features": [
                    "Ordering guarantees",
                    "Latency trade-offs",
                    "Conflict resolution strategies",
                    "Causality preservation",
                ],
                "use_cases": [
                    "DynamoDB eventual consistency",
                    "Cassandra tunable consistency",
                    "Redis strong consistency",
                    "MongoDB consistency levels",
                ],
                "related": [
                    ("Strong", CONCEPT),
                    ("Eventual", CONCEPT),
                    ("Causal", CONCEPT),
                    ("Sequential", CONCEPT),
                ],
            },
        ],
    },
    {
        "name": "Network Protocols",
        "slug": "network-protocols",
        "icon": "lan",
        "blurb": (
            "The layered rules that move bytes between machines: TCP/IP, HTTP, name "
            "lookups with DNS, and long-lived WebSocket connections."
        ),
        "topics": [
            {
                "title": "TCP/IP Model",
                "slug": "tcp-ip-model",
                "summary": (
                    "Four-layer networking model providing reliable transport layer "
                    "delivery with flow control and congestion management."
                ),
                "key_features": [
                    "Connection-oriented communication",
                    "Error checking and correction",
                    "Packet ordering guarantees",
                    "Congestion control mechanisms",
                ],
                "use_cases": [
                    "Web browsing (HTTP over TCP)",
                    "Email transmission (SMTP)",
                    "File transfer (FTP)",
                    "Streaming services",
                ],
                "related": [],
            },
            {
                "title": "HTTP/HTTPS",
                "slug": "http-https",
                "summary": (
                    "Application layer protocol for request/response communication, "
                    "stateless by design with various methods for resource manipulation."
                ),
                "key_features": [
                    "Request/response headers",
                    "Status codes (200, 404, 500, etc.)",
                    "Cookies for state management",
                    "HTTP/2 multiplexing and HTTP/3 QUIC",
                ],
                "use_cases": [
                    "RESTful Web APIs",
                    "Web page serving",
                    "Webhooks and callbacks",
                    "GraphQL over HTTP",
                ],
                "related": [],
            },
            {
                "title": "DNS",
                "slug": "dns",
                "summary": (
                    "Domain Name System for hierarchical name resolution with caching and "
                    "load balancing capabilities."
                ),
                "key_features": [
                    "A/AAAA records for IP addresses",
                    "CNAME for aliasing",
                    "MX records for email routing",
                    "TTL-based caching strategy",
                ],
                "use_cases": [
                    "Website domain resolution",
                    "Email server routing",
                    "Service discovery mechanisms",
                    "CDN routing and failover",
                ],
                "related": [],
            },
            {
                "title": "WebSockets",
                "slug": "websockets",
                "summary": (
                    "Full-duplex communication protocol over persistent connections for "
                    "real-time, low-latency bidirectional data exchange."
                ),
                "key_features": [
                    "Bidirectional messaging",
                    "Event-driven architecture",
                    "Lower overhead than polling",
                    "Heartbeat for connection health",
                ],
                "use_cases": [
                    "Chat applications",
                    "Live dashboards and updates",
                    "Multiplayer games",
                    "Collaborative editing tools",
                ],
                "related": [],
            },
        ],
    },
]


def topic_body(slug: str) -> str:
    """The topic's Markdown "How it works" body, or "" while its file does not exist yet."""
    path = BODIES_DIR / f"{slug}.md"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def refresh_unedited_bodies(topic_model, earlier_bodies: dict[str, set[str]]) -> None:
    """For data migrations: give each topic the current body file where its body is still
    exactly one of the earlier seed versions (SHA-256 of the text, per slug); a body an
    instructor changed in any way is left as it is."""
    import hashlib

    for slug, earlier in earlier_bodies.items():
        topic = topic_model.objects.filter(slug=slug).first()
        if topic is None or hashlib.sha256(topic.body.encode("utf-8")).hexdigest() not in earlier:
            continue
        current = topic_body(slug)
        if current and current != topic.body:
            topic.body = current
            topic.save(update_fields=["body"])
