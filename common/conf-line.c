/* This file implements the configuration line splitter of common/conf-line.h. */
#include "common/conf-line.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

char *conf_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void strip_comment(char *line)
{
	for (char *p = line; *p; p++)
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
}

int conf_line_split(char *line, enum conf_comments comments, char **key, char **value)
{
	char *s, *eq;

	if (comments == CONF_COMMENT_AFTER_SPACE)
		strip_comment(line);
	s = conf_trim(line);
	if (!*s || (comments == CONF_COMMENT_WHOLE_LINE && *s == '#'))
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = conf_trim(s);
	*value = conf_trim(eq + 1);
	return 1;
}
