/*
 * One line of the "key = value" configuration files of flashd and its
 * services (flashd.conf, web.conf, hooks.conf, sync.conf): comments and
 * blank lines skipped, key and value trimmed of white space.
 */
#ifndef FLASHD_COMMON_CONF_LINE_H
#define FLASHD_COMMON_CONF_LINE_H

enum conf_comments {
	/* '#' at the start of a line or after white space starts a comment;
	 * inside a word it is part of the value ("database = /srv/line#3.db"),
	 * as in the shell. */
	CONF_COMMENT_AFTER_SPACE,
	/* Only a line starting with '#' is a comment: values may hold '#'
	 * anywhere (hook commands). */
	CONF_COMMENT_WHOLE_LINE,
};

/*
 * Split line (modified in place) into *key and *value, both pointing into
 * it.  Returns 1 when set, 0 for a blank or comment line, -EINVAL for a
 * line without '=' (the caller names file and line).
 */
int conf_line_split(char *line, enum conf_comments comments, char **key, char **value);

/* s without leading and trailing white space (trailing cut in place). */
char *conf_trim(char *s);

#endif
