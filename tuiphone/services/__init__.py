"""tuiphone.services"""
