"""A retrieval corpus this project did not write: this machine's man pages (as
`man -P cat` prints them, the first 6,000 characters of each). Two kinds of query: the page's
own NAME description ("list directory contents": short, keyword-like) and hand-written
questions in other words ("how do I count the lines of a file": natural language)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

MAX_CHARS = 6000

# (question, the page that answers it): written for this benchmark, avoiding the NAME wording.
QUESTIONS = [
    ("how do I count the number of lines in a file", "wc"),
    ("show only the first few lines of a file", "head"),
    ("follow a log file as new lines are appended to it", "tail"),
    ("replace text in a stream using a regular expression", "sed"),
    ("drop repeated adjacent lines from sorted input", "uniq"),
    ("what changed between two versions of a text file", "diff"),
    ("apply a diff file to an original", "patch"),
    ("pack a directory into a single archive file", "tar"),
    ("how much free space is left on each mounted filesystem", "df"),
    ("which directories take up the most space", "du"),
    ("send a signal to a process to terminate it", "kill"),
    ("run a program with a lower scheduling priority", "nice"),
    ("list the processes running on the system", "ps"),
    ("print the kernel name and the machine hardware", "uname"),
    ("pause for a number of seconds", "sleep"),
    ("run a command repeatedly and show its output full screen", "watch"),
    ("write output to a file and to the terminal at the same time", "tee"),
    ("change who may read, write or execute a file", "chmod"),
    ("change the user that owns a file", "chown"),
    ("make a symbolic link to a file", "ln"),
    ("search a directory tree for files by name", "find"),
    ("build and run command lines from items read on standard input", "xargs"),
    ("rename a file", "mv"),
    ("delete a directory that is empty", "rmdir"),
    ("encode binary data as printable text", "base64"),
    ("generate a sequence of numbers", "seq"),
    ("put the lines of a file in random order", "shuf"),
    ("stop a command if it runs too long", "timeout"),
    ("keep a command running after I log out", "nohup"),
    ("create a temporary file with a unique name", "mktemp"),
    ("shrink or extend a file to a given size", "truncate"),
    ("copy a disk image block by block with a given block size", "dd"),
    ("which files has a process opened", "lsof"),
    ("trace the system calls a program makes", "strace"),
    ("how many processors can I use", "nproc"),
    ("do arithmetic with arbitrary precision from the shell", "bc"),
    ("print a file last line first", "tac"),
    ("reverse the characters of every line", "rev"),
    ("format input into aligned columns", "column"),
    ("convert text from one character encoding to another", "iconv"),
    ("query and transform JSON documents", "jq"),
    ("list disks and their partitions", "lsblk"),
    ("read the systemd logs", "journalctl"),
    ("start or stop a system service", "systemctl"),
    ("show network interfaces and their addresses", "ip"),
    ("merge the lines of files side by side", "paste"),
    ("join the lines of two files on a common field", "join"),
    ("cut a large file into pieces", "split"),
    ("number the lines of a file", "nl"),
    ("wrap long lines to a fixed width", "fold"),
    ("dump a file in octal", "od"),
    ("find out what kind of data a file holds", "file"),
    ("show a file's size, inode and timestamps", "stat"),
    ("update the modification time of a file", "touch"),
    ("strip the directory from a path name", "basename"),
    ("print the name of the current user", "whoami"),
    ("add a new user account", "useradd"),
    ("change a user's password", "passwd"),
    ("download a file over HTTP without interaction", "wget"),
    ("log in to a remote machine securely", "ssh"),
    ("copy files between hosts over ssh", "scp"),
    ("show how much memory is used and free", "free"),
    ("display the current time in a custom format", "date"),
    ("order lines alphabetically or numerically", "sort"),
    ("extract the third column of a CSV file", "cut"),
    ("convert lowercase letters to uppercase", "tr"),
    ("print the second field of every line and add up numbers", "awk"),
    ("compress files with the Zstandard algorithm", "zstd"),
    ("look for lines that contain a word in many files", "grep"),
    ("concatenate files and show them", "cat"),
]
EXTRA_PAGES = "ls cp rm mkdir gzip bzip2 xz zip unzip curl env which md5sum sha256sum comm expand"


@dataclass(frozen=True)
class Page:
    name: str  # the command; the file is `name.txt`
    description: str  # the NAME line's description
    text: str


def pages() -> list[Page]:
    """The corpus's pages that this machine has (same order on every run)."""
    names = sorted({name for _, name in QUESTIONS} | set(EXTRA_PAGES.split()))
    found = []
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""}
    for name in names:
        done = subprocess.run(
            ["man", "-P", "cat", name], capture_output=True, text=True, env=env, check=False
        )
        text = done.stdout
        match = re.search(r"^NAME\s*\n\s+(.+?)\n\s*\n", text, re.M | re.S)
        parts = re.split(r"\s[-\u2014]\s", match.group(1), maxsplit=1) if match else []
        if done.returncode or len(parts) != 2:
            continue
        description = " ".join(parts[1].split())
        found.append(Page(name, description, text[:MAX_CHARS]))
    return found
